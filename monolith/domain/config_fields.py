"""The config fields shared by :class:`RunConfig` and :class:`RunnerConfig`.

Every field is declared with :func:`setting`, whose attrs default is
:data:`~monolith.domain.config_values.UNSET`; the real default lives in the
field's metadata and is filled in after construction. So a config object
knows which fields were given to it, whatever their value, and where each
value came from (``sources``). Field order here is the order of
``monolith config show`` and of the table in docs/config.md.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any, Final, Literal, Self

import attrs

from monolith.domain.config_values import (
    CODE_SOURCE,
    DEFAULT_SOURCE,
    UNSET,
    Layer,
    Source,
    ValueType,
)
from monolith.domain.errors import ConfigError

Backend = Literal["torch", "tf"]
ServerType = Literal["worker", "ps"]
DiscoveryType = Literal["zk", "consul", "tf_config", "mlp", "memory", "file"]
StorageKind = Literal["local", "memory", "hdfs"]
ClockKind = Literal["system", "manual"]
FilterType = Literal["sliding_hash_filter", "probabilistic_filter", "no_filter"]
AddressFamily = Literal["ipv4", "ipv6"]

ENV_PREFIX: Final = "MONOLITH_"
_META_KEY: Final = "monolith.setting"


@attrs.frozen
class _SettingMeta:
    default: object
    doc: str
    minimum: float | None
    above: float | None


@attrs.frozen
class FieldSpec:
    """One config field: name, type, default and one-line documentation."""

    name: str
    type: ValueType
    default: object
    doc: str

    @property
    def env_name(self) -> str:
        """The environment variable of this field, ``MONOLITH_<NAME>``."""
        return ENV_PREFIX + self.name.upper()


def setting(
    default: object,
    doc: str,
    *,
    minimum: float | None = None,
    above: float | None = None,
) -> Any:
    """Declare a config field whose attrs default is ``UNSET``.

    Args:
        default: The value the field takes when no layer sets it.
        doc: One line for ``config show`` and docs/config.md.
        minimum: Smallest allowed number (inclusive).
        above: Numbers must be strictly greater than this.
    """
    meta = _SettingMeta(default, doc, minimum, above)
    return attrs.field(default=UNSET, metadata={_META_KEY: meta})


_SPECS_BY_CLASS: dict[type, tuple[FieldSpec, ...]] = {}


def field_specs(cls: type) -> tuple[FieldSpec, ...]:
    """The config fields of a settings class, in declaration order.

    Raises:
        TypeError: A field's default does not fit its own type (a
            programming error, caught by the unit tests).
    """
    cached = _SPECS_BY_CLASS.get(cls)
    if cached is not None:
        return cached
    hints = typing.get_type_hints(cls)
    specs = []
    for field in attrs.fields(cls):
        meta = field.metadata.get(_META_KEY)
        if meta is None:
            continue
        value_type = ValueType.from_hint(
            hints[field.name], minimum=meta.minimum, above=meta.above
        )
        try:
            default = value_type.coerce(field.name, meta.default, DEFAULT_SOURCE)
        except ConfigError as exc:
            raise TypeError(f"bad default for config field: {exc}") from exc
        specs.append(FieldSpec(field.name, value_type, default, meta.doc))
    _SPECS_BY_CLASS[cls] = tuple(specs)
    return _SPECS_BY_CLASS[cls]


@attrs.frozen(kw_only=True)
class Settings:
    """Fields and provenance common to the user-facing and the runtime config.

    Construct a subclass with the values you mean to set; every other field
    takes its default. Values given to the constructor are checked against
    the field's type and recorded as coming from ``code`` unless ``sources``
    names another layer (the merge does that). Two configs are equal when
    their values are equal, wherever the values came from.
    """

    task: str | None = setting(None, "Dotted task name, package.module.ClassName.")
    backend: Backend = setting("torch", "Dense-tower backend.")
    model_dir: str | None = setting(
        None, "Checkpoints and summaries go here (a path or hdfs:/...)."
    )
    data: str | None = setting(
        None, "Training input: comma-separated paths or globs, or @listfile."
    )
    eval_data: str | None = setting(None, "Evaluation input, same syntax as data.")
    batch_size: int = setting(512, "Examples per training batch.", minimum=1)
    steps: int | None = setting(
        None, "Stop after this many steps; none runs all epochs.", minimum=1
    )
    epochs: int = setting(1, "Passes over the training input.", minimum=1)
    seed: int = setting(0, "Seed of initializers and shuffling.", minimum=0)
    save_checkpoints_steps: int | None = setting(
        None, "Save every N steps (not with _secs); always at the end.", minimum=1
    )
    save_checkpoints_secs: float | None = setting(
        None, "Save every N seconds (not with _steps); always at the end.", above=0
    )
    max_to_keep: int = setting(
        10, "Unprotected checkpoints kept; 0 keeps all.", minimum=0
    )
    restore_dir: str | None = setting(
        None, "Chief copies a checkpoint from here when model_dir has none."
    )
    restore_ckpt: str | None = setting(
        None, "Checkpoint name in restore_dir to restore; none takes the latest."
    )
    chief_timeout_secs: float = setting(
        1800.0, "Non-chief wait for the chief's restore or shutdown.", minimum=0
    )
    log_step_count_steps: int = setting(100, "Log progress every N steps.", minimum=1)
    save_summary_steps: int = setting(
        100, "Write summaries every N steps; 0 turns them off.", minimum=0
    )
    is_local: bool = setting(
        True, "Run PS shards in this process; no discovery is used."
    )
    num_ps: int = setting(0, "Parameter servers; 0 keeps tables local.", minimum=0)
    num_workers: int = setting(1, "Training workers.", minimum=1)
    server_type: ServerType = setting("worker", "Role of this process.")
    index: int = setting(0, "Task index of this process within its role.", minimum=0)
    discovery_type: DiscoveryType | None = setting(
        None, "Service discovery; unset becomes zk in the runner config."
    )
    zk_servers: tuple[str, ...] = setting(
        ("127.0.0.1:2181",), "ZooKeeper ensemble, host:port list."
    )
    zk_watch_address_family: AddressFamily = setting(
        "ipv4", "Address family of ZooKeeper registrations."
    )
    job_name: str = setting("default", "Job name; ZK path /monolith/<job_name>.")
    consul_addr: str = setting("127.0.0.1:8500", "Consul agent HTTP address.")
    file_discovery_dir: str | None = setting(
        None, "Directory of <name>.<index> address files (discovery_type=file)."
    )
    embedding_prefetch_capacity: int = setting(
        0,
        "Original's lookup-ahead depth; forced >= 1 on CPU (monolith's input "
        "queue reads batches ahead; lookups stay in step order).",
        minimum=0,
    )
    enable_embedding_postpush: bool = setting(
        False,
        "Original's deferred embedding update; forced on CPU (monolith applies "
        "each update before the next lookup).",
    )
    enable_gpu_training: bool = setting(False, "Train the dense tower on a GPU.")
    enable_parameter_sync: bool = setting(
        False, "Push fresh embeddings to serving; implies realtime training."
    )
    enable_realtime_training: bool = setting(
        False, "Realtime mode: PS track touched keys and stay up."
    )
    sync_interval_secs: float = setting(
        10.0, "Seconds between parameter-sync pushes.", above=0
    )
    serving_addrs: tuple[str, ...] = setting(
        (), "Serving replicas that receive parameter sync, host:port list."
    )
    storage: StorageKind = setting("local", "File-system adapter.")
    max_rpc_deadline_millis: int = setting(
        30000, "Deadline of one PS or serving RPC.", minimum=1
    )
    max_retry_times: int = setting(
        0, "Cluster changes tolerated before training gives up.", minimum=0
    )
    retry_wait_in_secs: float = setting(
        30.0, "Wait before re-querying the cluster after an RPC failure.", minimum=0
    )
    max_pending_seconds_for_barrier: float = setting(
        30.0, "Chief waits this long for workers to block before saving.", minimum=0
    )
    filter_type: FilterType = setting(
        "sliding_hash_filter", "Occurrence filter admitting new fids."
    )
    filter_capacity: int = setting(
        300_000_000, "Counters of the occurrence filter.", minimum=1
    )
    filter_split_num: int = setting(7, "Splits of the sliding hash filter.", minimum=1)
    clock: ClockKind = setting("system", "Clock adapter; manual is for tests.")
    _sources: Mapping[str, Source] = attrs.field(factory=dict, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        given = self._sources
        resolved: dict[str, Source] = {}
        for spec in field_specs(type(self)):
            value = getattr(self, spec.name)
            if value is UNSET:
                object.__setattr__(self, spec.name, spec.default)
                resolved[spec.name] = DEFAULT_SOURCE
                continue
            source = given.get(spec.name, CODE_SOURCE)
            object.__setattr__(
                self, spec.name, spec.type.coerce(spec.name, value, source)
            )
            resolved[spec.name] = source
        stray = sorted(set(given) - set(resolved))
        if stray:
            raise ConfigError(f"sources name unknown config keys {stray}")
        object.__setattr__(self, "_sources", types.MappingProxyType(resolved))

    @property
    def sources(self) -> Mapping[str, Source]:
        """Where every field's value came from, by field name."""
        return self._sources

    def source_of(self, name: str) -> Source:
        """Where the value of field ``name`` came from.

        Raises:
            ConfigError: ``name`` is not a config field.
        """
        try:
            return self._sources[name]
        except KeyError:
            raise ConfigError(f"unknown config key {name!r}") from None

    def user_overrides(self) -> frozenset[str]:
        """Names of the fields some layer other than the defaults set.

        A field set explicitly to its default value counts as set.
        """
        return frozenset(
            name for name, src in self._sources.items() if src.layer > Layer.DEFAULT
        )

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` set from code; everything else is kept.

        Unchanged fields keep their values and sources; changed ones are
        recorded as ``code``. Prefer this to ``attrs.evolve``, which cannot
        tell a changed field from a copied one.

        Raises:
            ConfigError: A key is not a config field or a value has the
                wrong type; the message names key, layer ``code`` and type.
        """
        names = [spec.name for spec in field_specs(type(self))]
        for key in changes:
            if key not in names:
                raise ConfigError(f"unknown config key {key!r} from code")
        kept = {n: s for n, s in self._sources.items() if n not in changes}
        values: dict[str, Any] = {n: getattr(self, n) for n in names}
        values.update(changes)
        extras = {
            field.alias: getattr(self, field.name)
            for field in attrs.fields(type(self))
            if field.name not in names and field.name != "_sources"
        }
        return type(self)(**values, **extras, sources=kept)

    def values(self) -> dict[str, Any]:
        """Every field's value, by name, in declaration order."""
        return {spec.name: getattr(self, spec.name) for spec in field_specs(type(self))}
