"""Who may call what: ONE table, endpoint × role → rule, read by the request dependency
(`enforce`, installed on every API router) and by the tests that walk the OpenAPI document.

Rules: `all` (any resource), `own` (only within the caller's scope: an officer its agency,
a supervisor its agency and every agency below it on any day), absent = 403. The scope of
an endpoint is what `own` is judged on: a dossier (the agencies that have or had a part
in it), an agency (path `code` or `agency_code`, or query `agency_code`), or nothing (the route filters its
rows itself, e.g. search and the live stream; a new dossier's desk is the use case's).
Commands on a dossier are checked here like reads (an officer of an agency with no part
in it gets 403 before its body is even validated), then judged again by the use case,
inside the writer's transaction, on the dossier's current state (the holder acts).

The check runs before the route reads anything: a caller outside its scope gets 403 and
learns nothing of the resource (not its version, status nor whether it exists beyond 404
for an id nobody has).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from gateways.application.commands import COMMANDS
from gateways.auth import ROLES

ANONYMOUS = "anonymous"


class Rule(StrEnum):
    ALL = "all"
    OWN = "own"


class Scope(StrEnum):
    NONE = "none"  # nothing to judge `own` on: the route filters what it returns
    DOSSIER = "dossier"  # path `dossier_id`, or query `dossier_id`
    AGENCY = "agency"  # path `code` or `agency_code`, or query `agency_code`


@dataclass(frozen=True)
class Policy:
    rules: Mapping[str, Rule] = field(default_factory=dict)
    scope: Scope = Scope.NONE
    public: bool = False  # no token needed (citizen, probes, public key)
    # With scope DOSSIER on a query parameter: may a scoped caller leave it out (whole store)?
    scope_required: bool = False
    # The rate limit that applies (gateways/http/ratelimit.py): "commands", "lookup" or none.
    limit: str | None = None

    def rule(self, role: str) -> Rule | None:
        if self.public:
            return Rule.ALL
        return self.rules.get(role)


def _rules(**rules: str) -> Mapping[str, Rule]:
    return MappingProxyType({role: Rule(r) for role, r in rules.items()})


PUBLIC = Policy(public=True)
SIGNED_IN = Policy(_rules(**dict.fromkeys(ROLES, "all")))
SIGNED_IN_FILTERED = Policy(
    _rules(officer="own", supervisor="own", inspector="all", integration="all", admin="all")
)
READ_DOSSIER = Policy(
    _rules(officer="own", supervisor="own", inspector="all", integration="all", admin="all"),
    Scope.DOSSIER,
)
CREATE = Policy(_rules(officer="own", integration="all"), limit="commands")
COMMAND = Policy(_rules(officer="own", integration="all"), Scope.DOSSIER, limit="commands")
LOOKUP = Policy(public=True, limit="lookup")
ADMIN = Policy(_rules(admin="all"))
INBOX = Policy(
    _rules(officer="own", supervisor="own", inspector="all", integration="all", admin="all"), Scope.AGENCY
)
REPORTS = Policy(_rules(officer="own", supervisor="own", inspector="all", admin="all"), Scope.AGENCY)
FLOW_REPORTS = Policy(_rules(supervisor="own", inspector="all", admin="all"), Scope.AGENCY)
AUDIT_VERIFY = Policy(
    _rules(supervisor="own", inspector="all", admin="all"), Scope.DOSSIER, scope_required=True
)
PROOF = Policy(_rules(supervisor="own", inspector="all", integration="all", admin="all"), Scope.DOSSIER)

GET, POST, PUT = "GET", "POST", "PUT"
V1 = "/api/v1"

_TABLE: dict[tuple[str, str], Policy] = {
    # probes, metrics, the calendar, the citizen, the checkpoint key
    (GET, "/healthz"): PUBLIC,
    (GET, "/readyz"): PUBLIC,
    (GET, "/metrics"): PUBLIC,
    (GET, f"{V1}/calendar/working-time"): PUBLIC,
    (GET, f"{V1}/lookup/{{receipt_code}}"): LOOKUP,
    (POST, f"{V1}/lookup"): LOOKUP,
    (POST, f"{V1}/lookup/satisfaction"): LOOKUP,
    (GET, f"{V1}/audit/public-key"): PUBLIC,
    (POST, f"{V1}/demo/token"): PUBLIC,  # 404 unless the demo login is on
    (GET, f"{V1}/demo/agencies"): PUBLIC,
    # catalogue
    (GET, f"{V1}/agencies"): SIGNED_IN,
    (GET, f"{V1}/agencies/{{code}}"): SIGNED_IN,
    (PUT, f"{V1}/agencies/{{code}}"): ADMIN,
    (GET, f"{V1}/procedures"): SIGNED_IN,
    (GET, f"{V1}/procedures/{{code}}"): SIGNED_IN,
    (PUT, f"{V1}/procedures/{{code}}"): ADMIN,
    # commands
    (POST, f"{V1}/dossiers"): CREATE,
    **{(POST, f"{V1}/dossiers/{{dossier_id}}{spec.path}"): COMMAND for spec in COMMANDS.values()},
    # reads
    (GET, f"{V1}/dossiers"): SIGNED_IN_FILTERED,
    (GET, f"{V1}/dossiers/{{dossier_id}}"): READ_DOSSIER,
    (GET, f"{V1}/dossiers/{{dossier_id}}/events"): READ_DOSSIER,
    (GET, f"{V1}/dossiers/{{dossier_id}}/control-sheet"): READ_DOSSIER,
    (GET, f"{V1}/agencies/{{code}}/inbox"): INBOX,
    (GET, f"{V1}/events/stream"): SIGNED_IN_FILTERED,
    # reports
    (GET, f"{V1}/reports/bieu06"): REPORTS,
    (GET, f"{V1}/reports/bieu06/form"): REPORTS,
    (GET, f"{V1}/reports/sla"): REPORTS,
    (GET, f"{V1}/reports/at-risk"): REPORTS,
    (GET, f"{V1}/reports/late-steps"): REPORTS,
    (GET, f"{V1}/reports/indicators"): REPORTS,
    (GET, f"{V1}/reports/bottlenecks"): FLOW_REPORTS,
    (GET, f"{V1}/reports/heatmap"): FLOW_REPORTS,
    (GET, f"{V1}/reports/wip"): FLOW_REPORTS,
    (GET, f"{V1}/reports/bottlenecks/dossiers"): FLOW_REPORTS,
    # printed forms
    (GET, f"{V1}/dossiers/{{dossier_id}}/documents/{{kind}}"): READ_DOSSIER,
    (GET, f"{V1}/agencies/{{agency_code}}/documents/register"): REPORTS,
    # dossier files (thành phần hồ sơ, the result)
    (POST, f"{V1}/dossiers/{{dossier_id}}/files"): COMMAND,
    (GET, f"{V1}/dossiers/{{dossier_id}}/files"): READ_DOSSIER,
    (GET, f"{V1}/dossiers/{{dossier_id}}/files/{{sha256}}"): READ_DOSSIER,
    (POST, f"{V1}/lookup/result-file"): LOOKUP,
    (GET, f"{V1}/lookup/{{receipt_code}}/result"): LOOKUP,
    # erasure of a person's data
    (POST, f"{V1}/privacy/forget"): ADMIN,
    # audit
    (GET, f"{V1}/audit/verify"): AUDIT_VERIFY,
    (GET, f"{V1}/audit/checkpoints"): SIGNED_IN,
    (GET, f"{V1}/audit/checkpoints/{{n}}"): SIGNED_IN,
    (GET, f"{V1}/dossiers/{{dossier_id}}/events/{{seq}}/proof"): PROOF,
}
TABLE: Mapping[tuple[str, str], Policy] = MappingProxyType(_TABLE)

# An API route missing from the table is refused to everyone (fail closed); the dashboard's
# static pages (outside /api/) are public: they hold no data, they call the API with a token.
UNLISTED = Policy()


def policy_for(method: str, path: str) -> Policy:
    method = "GET" if method == "HEAD" else method
    policy = TABLE.get((method, path))
    if policy is not None:
        return policy
    return UNLISTED if path.startswith("/api/") else PUBLIC
