"""The agent desk: the work queue, the case page (log an interaction, promise, plan, payment,
barrier, follow-up, restriction, reassignment) and the supervisors' plan inbox. An interface over
the case layer and the engine."""
