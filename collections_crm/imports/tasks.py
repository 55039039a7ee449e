from __future__ import annotations

from celery import shared_task

from .folders import folders_poll
from .services import import_job_plan_cases, import_job_run, import_jobs_sweep


# A million-row file takes about a minute; the limits leave room for slow disks.
@shared_task(name="imports.run", time_limit=1800, soft_time_limit=1740, acks_late=True)
def run_import(job_id: int) -> None:
    import_job_run(job_id=job_id)


@shared_task(name="imports.plan_cases", time_limit=1800, soft_time_limit=1740, acks_late=True)
def plan_imported_cases(job_id: int) -> None:
    import_job_plan_cases(job_id=job_id)


@shared_task(name="imports.sweep", time_limit=300, soft_time_limit=270)
def sweep_imports() -> None:
    import_jobs_sweep()


@shared_task(name="imports.watch_folders", time_limit=600, soft_time_limit=570)
def watch_folders() -> None:
    folders_poll()
