"""The one composition root: settings in, a wired container out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from domain.calendar import WorkingCalendar
from gateways.application.attachments import Attachments
from gateways.application.handler import CommandHandler
from gateways.application.idempotency import IdempotencyStore
from gateways.application.receipts import ReceiptNumbers
from gateways.application.service import DossierService
from gateways.application.state import StateCache
from gateways.application.writer import GroupCommitWriter
from gateways.audit import Checkpointer
from gateways.blobs import BlobStore, open_blob_store
from gateways.calendar_factory import build_calendar
from gateways.catalogue import Catalogue
from gateways.eventstore.store import EventStore
from gateways.feeds import Feed, InProcessFeed
from gateways.files import private_dir, private_sqlite
from gateways.keys import Keyring
from gateways.metrics import Metrics, StoreCollector
from gateways.pii import PiiVault
from gateways.settings import Settings
from gateways.sql import Database
from gateways.views.bottleneck import BottleneckReports
from gateways.views.dossier_index import DossierIndex
from gateways.views.feed import StoreFeed
from gateways.views.indicators import IndicatorsReports
from gateways.views.registry import build_views
from gateways.views.runtime import ViewRunner
from gateways.views.sla import SlaReports


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Container:
    settings: Settings
    calendar: WorkingCalendar
    store: EventStore
    db: Database
    view_db: Database
    keyring: Keyring
    catalogue: Catalogue
    vault: PiiVault
    idempotency: IdempotencyStore
    index: DossierIndex
    runners: list[ViewRunner]
    feed: Feed  # in process or Kafka, chosen once here (gateways/feeds.py)
    writer: GroupCommitWriter
    service: DossierService
    commands: CommandHandler
    checkpoints: Checkpointer
    sla: SlaReports
    bottlenecks: BottleneckReports
    indicators: IndicatorsReports
    clock: Callable[[], datetime]
    blobs: BlobStore
    attachments: Attachments
    metrics: Metrics = field(default_factory=Metrics)
    _closed: bool = field(default=False, repr=False)

    def view_position(self, name: str = "dossier_index") -> int:
        """The notification id up to which a view is current (for `view_position` / lag)."""
        return self.feed.runner(name).notification_position()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.writer.close()
        if self.view_db is not self.db:
            self.view_db.close()
        self.db.close()
        self.store.close()
        self.blobs.close()


def open_feed(settings: Settings, log: StoreFeed, db: Database) -> Feed:
    """The feed, chosen once from the settings: Kafka when a broker is configured, else in process."""
    if not settings.kafka_bootstrap:
        return InProcessFeed(log)
    from gateways.kafka.feed import KafkaFeed
    from gateways.kafka.topics import Topics

    topics = Topics.with_prefix(settings.kafka_topic_prefix)
    return KafkaFeed(log, db, settings.kafka_bootstrap, topics, settings.kafka_event_partitions)


def bootstrap(settings: Settings | None = None, clock: Callable[[], datetime] = system_clock) -> Container:
    settings = settings or Settings.load()
    # Folders 0700, database files 0600 (gateways/files.py).
    private_dir(settings.data_dir)
    private_sqlite(settings.resolved_event_store_url)
    private_sqlite(settings.resolved_view_store_url)
    calendar = build_calendar(settings)
    store = EventStore(settings.resolved_event_store_url)
    db = Database(settings.resolved_event_store_url)
    view_db = (
        db
        if settings.resolved_view_store_url == settings.resolved_event_store_url
        else Database(settings.resolved_view_store_url)
    )
    keyring = Keyring(settings)
    catalogue = Catalogue(db)
    vault = PiiVault(
        db, keyring.pii_master_key, keyring.pii_index_key, keyring.pii_retired_keys, keyring.pii_all_keys
    )
    idempotency = IdempotencyStore(db, settings.idempotency_ttl_seconds)
    index = DossierIndex(view_db)
    runners = [ViewRunner(view_db, view) for view in build_views(calendar)]
    feed = open_feed(settings, StoreFeed(store, runners), db)
    writer = GroupCommitWriter(
        store,
        idempotency,
        StateCache(store, settings.state_cache_size),
        clock,
        max_batch=settings.writer_max_batch,
        max_pending=settings.writer_max_pending,
        after_commit=feed.after_commit,  # in process: catch up; Kafka: nothing (the relay publishes)
    )
    service = DossierService(
        store, catalogue, calendar, vault, clock, writer, settings.supplement_window_working_hours
    )
    commands = CommandHandler(service, settings.clock_skew_seconds, settings.command_wait_seconds)
    commands.receipts = ReceiptNumbers(db)
    writer.on_rollback.append(commands.receipts.forget)
    checkpoints = Checkpointer(
        db,
        store,
        keyring.checkpoint_key,
        every_events=settings.checkpoint_every_events,
        every_seconds=settings.checkpoint_every_seconds,
        max_delay_seconds=settings.checkpoint_max_delay_seconds,
        retired_keys=keyring.checkpoint_retired_keys,
    )
    blobs = open_blob_store(settings.blob_store_url, settings.data_dir)

    def find_receipt(code: str) -> str | None:
        row = index.find_by_receipt(code)
        return row.dossier_id if row else None

    attachments = Attachments(
        service, blobs, db, settings.max_upload_bytes, find_receipt, settings.clock_skew_seconds
    )
    metrics = Metrics()
    writer.on_batch = metrics.observe_batch
    commands.observe = metrics.observe_command
    container = Container(
        settings=settings,
        calendar=calendar,
        store=store,
        db=db,
        view_db=view_db,
        keyring=keyring,
        catalogue=catalogue,
        vault=vault,
        idempotency=idempotency,
        index=index,
        runners=runners,
        feed=feed,
        writer=writer,
        service=service,
        commands=commands,
        checkpoints=checkpoints,
        sla=SlaReports(view_db, catalogue, calendar),
        bottlenecks=BottleneckReports(view_db, catalogue, calendar),
        indicators=IndicatorsReports(view_db, catalogue, calendar),
        clock=clock,
        blobs=blobs,
        attachments=attachments,
        metrics=metrics,
    )
    metrics.add(StoreCollector(container))
    return container
