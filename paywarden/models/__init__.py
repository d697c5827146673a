"""All models, imported here so that Alembic and the app see one complete metadata."""

from paywarden.models.addresses import DepositAddress
from paywarden.models.audit import AuditEntry
from paywarden.models.banners import Banner
from paywarden.models.base import Base
from paywarden.models.card_stats import CardExposure, CardStats
from paywarden.models.cards import (
    B2bGroup,
    B2bInvite,
    B2bProfile,
    Card,
    CardTransaction,
    Code3ds,
    IssuerEvent,
)
from paywarden.models.chain import ChainTransfer, ScannerState
from paywarden.models.clients import Client, ClientSession
from paywarden.models.incidents import Incident
from paywarden.models.ledger import LedgerAccount, LedgerHold, LedgerPosting, LedgerTransaction
from paywarden.models.merchants import Merchant
from paywarden.models.notifications import BotStatus, Notification, NotificationAttempt
from paywarden.models.operators import BackupCode, Operator, OperatorSession, TotpEnrollment
from paywarden.models.orders import Order, OrderDailyStats, OrderEvent
from paywarden.models.plans import FxRate, Plan
from paywarden.models.subscriptions import Subscription
from paywarden.models.support import SupportSettings
from paywarden.models.sweeps import HotWallet, Sweep
from paywarden.models.topups import Topup
from paywarden.models.treasury import (
    IssuerBalance,
    IssuerCallCount,
    IssuerStatusRow,
    TreasuryEstimate,
)
from paywarden.models.web_users import WebUser, WebUserSession
from paywarden.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEvent

__all__ = [
    "AuditEntry",
    "B2bGroup",
    "B2bInvite",
    "B2bProfile",
    "BackupCode",
    "Banner",
    "Base",
    "BotStatus",
    "Card",
    "CardExposure",
    "CardStats",
    "CardTransaction",
    "ChainTransfer",
    "Client",
    "ClientSession",
    "Code3ds",
    "DepositAddress",
    "FxRate",
    "HotWallet",
    "Incident",
    "IssuerBalance",
    "IssuerCallCount",
    "IssuerEvent",
    "IssuerStatusRow",
    "LedgerAccount",
    "LedgerHold",
    "LedgerPosting",
    "LedgerTransaction",
    "Merchant",
    "Notification",
    "NotificationAttempt",
    "Operator",
    "OperatorSession",
    "Order",
    "OrderDailyStats",
    "OrderEvent",
    "Plan",
    "ScannerState",
    "Subscription",
    "SupportSettings",
    "Sweep",
    "Topup",
    "TotpEnrollment",
    "TreasuryEstimate",
    "WebUser",
    "WebUserSession",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEvent",
]
