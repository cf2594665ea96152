"""The models, one module per aggregate; importing this package registers them all."""

from interactions.models.audit import AuditEvent
from interactions.models.blast import Blast, BlastRecipient, BlastTemplate
from interactions.models.capture import FINAL_STATUSES, Capture, CaptureStatus
from interactions.models.client import Client, Plan, Project
from interactions.models.contact import Contact, ContactEmail, ContactRole
from interactions.models.firm import (
    INTERACTION_TIERS,
    Firm,
    Right,
    SecurityGroup,
    SecurityGroupRight,
    Tier,
    User,
    user_security_group,
)
from interactions.models.integration import FileExchangeReport, IntegrationKey
from interactions.models.interaction import (
    LINKABLE,
    SALESPITCH,
    Interaction,
    Link,
    Participant,
    RecordType,
    Source,
)
from interactions.models.interaction_type import (
    SYSTEM_BASE_NAMES,
    BaseName,
    InteractionType,
)
from interactions.models.resend import (
    FINAL_RESEND_STATUSES,
    Resend,
    ResendAttempt,
    ResendStatus,
)
from interactions.models.salespitch import Opportunity, Proposal, Prospect
from interactions.models.token_cache import UserTokenCache

__all__ = [
    "FINAL_RESEND_STATUSES",
    "FINAL_STATUSES",
    "INTERACTION_TIERS",
    "LINKABLE",
    "SALESPITCH",
    "SYSTEM_BASE_NAMES",
    "AuditEvent",
    "BaseName",
    "Blast",
    "BlastRecipient",
    "BlastTemplate",
    "Capture",
    "CaptureStatus",
    "Client",
    "Contact",
    "ContactEmail",
    "ContactRole",
    "FileExchangeReport",
    "Firm",
    "IntegrationKey",
    "Interaction",
    "InteractionType",
    "Link",
    "Opportunity",
    "Participant",
    "Plan",
    "Project",
    "Proposal",
    "Prospect",
    "RecordType",
    "Resend",
    "ResendAttempt",
    "ResendStatus",
    "Right",
    "SecurityGroup",
    "SecurityGroupRight",
    "Source",
    "Tier",
    "User",
    "UserTokenCache",
    "user_security_group",
]
