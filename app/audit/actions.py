"""What each action code of the audit log means, in words a reader of the page or a download understands.

The code stays what the log stores (and what filters and scripts use); the words are shown beside it. A code with no
entry here (an old one, a test's) is shown as it is.
"""

from __future__ import annotations

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

ACTIONS: dict[str, LazyString] = {
    "account.create": _l("account created"),
    "account.change": _l("account changed"),
    "account.access_given": _l("access given to an initiative"),
    "account.access_removed": _l("access to an initiative removed"),
    "account.deactivate": _l("account deactivated"),
    "account.reactivate": _l("account reactivated"),
    "account.password_reset": _l("password reset"),
    "account.totp_reset": _l("second factor reset"),
    "settings.change": _l("instance setting changed"),
    "staff.sign_in": _l("signed in"),
    "staff.sign_in_failed": _l("sign-in failed"),
    "staff.sign_out": _l("signed out"),
    "staff.totp_enrol": _l("second factor set up"),
    "staff.totp_disable": _l("second factor removed"),
    "initiative.create": _l("initiative created"),
    "initiative.update": _l("initiative edited"),
    "initiative.status": _l("initiative status changed"),
    "initiative.text": _l("initiative's text in a language edited"),
    "keys.generate": _l("auditor key pair generated"),
    "quarantine.apply": _l("statements quarantined"),
    "quarantine.release": _l("quarantined statements released"),
    "statements.invalidate": _l("statements invalidated"),
    "counters.repair": _l("counters repaired"),
    "export.create": _l("export created"),
    "export.download": _l("export downloaded"),
    "retention.run": _l("retention run"),
    "retention.purge": _l("data deleted under the retention rules"),
    "audit.download": _l("audit log downloaded"),
    "update.create": _l("update to supporters written"),
    "update.edit": _l("update to supporters edited"),
    "update.test_send": _l("update sent as a test to its author"),
    "update.send": _l("update to supporters started sending"),
    "update.pause": _l("update to supporters paused"),
    "update.resume": _l("update to supporters resumed"),
    "update.sent": _l("update to supporters finished sending"),
    "partner.create": _l("partner organisation added"),
    "partner.update": _l("partner organisation edited"),
    "partner.delete": _l("partner organisation removed"),
    "partner.report_link": _l("partner's page given a new link"),
    "partner.handover": _l("addresses handed over, sealed, to a partner"),
    "partner.handover_download": _l("partner hand-over downloaded"),
    "embed.origins": _l("sites that may frame the form changed"),
}


def action_label(code: str) -> str:
    """The readable name of an action code, in the reader's language; the code itself when it has none."""
    label = ACTIONS.get(code)
    return str(label) if label is not None else code


def action_labels() -> dict[str, str]:
    """Every readable name in the reader's language, resolved now (a download is written after its request ended)."""
    return {code: str(label) for code, label in ACTIONS.items()}


def action_choices() -> list[tuple[str, str]]:
    """(code, readable name) for the page's filter, by name: from this table, not a scan of the whole log."""
    return sorted(((code, str(label)) for code, label in ACTIONS.items()), key=lambda pair: pair[1].lower())
