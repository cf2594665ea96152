"""Who the caller is, in which firm, with which rights."""

from __future__ import annotations

from interactions.models import Firm, User
from web.api import api
from web.api.schemas import FirmOut, Me, UserOut
from web.context import actor, db


@api.operation(
    "GET", "/me", summary="The signed-in user, their firm and rights", tag="me"
)
def me() -> Me:
    current = actor()
    user = db().get_one(User, current.user_id)
    firm = db().get_one(Firm, current.firm_id)

    return Me(
        user=UserOut.model_validate(user),
        firm=FirmOut(
            id=firm.id,
            name=firm.name,
            tier=firm.tier.value,
            has_salespitch=firm.has_salespitch,
            has_interactions=firm.has_interactions,
        ),
        rights=sorted(right.value for right in current.rights),
    )
