from .actions import cases_reassign, team_member_set, team_priority_set
from .rebuild import RebuildResult, facts_rebuild

__all__ = ["RebuildResult", "cases_reassign", "facts_rebuild", "team_member_set", "team_priority_set"]
