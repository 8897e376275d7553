"""The algorithms of the cpted provider, one class per file."""

from .access_control import AccessControl
from .activity import Activity
from .audit_site import AuditSite
from .compare_scenarios import CompareScenarios
from .isovists import Isovists
from .maintenance import Maintenance
from .surveillance import Surveillance
from .territoriality import Territoriality

ALGORITHMS = (AuditSite, Surveillance, Territoriality, AccessControl, Maintenance, Activity, CompareScenarios, Isovists)
