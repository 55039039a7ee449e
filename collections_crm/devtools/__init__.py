"""Developer tools: demo users and data (``seed_demo``), the portfolio generator and the
benchmarks (``bench``). Installed so that its commands run; no production module imports it
(the import-linter contract keeps it so)."""
