"""Whether a run dir's contents may be reused, resumed or must be refused.

Predictions are reused only when the stored manifest vouches for exactly this configuration
(hash, fingerprints, and with ``--verify-content`` the content digests) and a complete run's
summary still matches its seal. Everything else is refused with a message naming what differs;
``--overwrite`` replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from iadbench.contract.errors import IADBenchError, RunConflictError
from iadbench.execution.planning import PlannedRun
from iadbench.runs.layout import MANIFEST
from iadbench.runs.seal import seal_problem
from iadbench.runs.writer import RunStore


@dataclass(frozen=True)
class RunDirState:
    """What a run dir holds for a planned run.

    Attributes:
        manifest: The manifest to resume from (None: start afresh).
        summary: A complete, sealed summary of exactly this run: serve it, compute nothing.
        discard: The dir holds something else and ``--overwrite`` was given: clear it first.
    """

    manifest: dict[str, Any] | None
    summary: dict[str, Any] | None = None
    discard: bool = False


def inspect_run_dir(store: RunStore, plan: PlannedRun) -> RunDirState:
    """Decide whether the run dir is reused, resumed, replaced (``--overwrite``) or refused.

    Raises:
        RunConflictError: The dir holds another configuration, content that changed, predictions
            no manifest vouches for, an unreadable record, or a summary that does not match its
            seal — and ``--overwrite`` was not given.
    """
    try:
        manifest = store.read_manifest()
        complete = manifest is not None and manifest.get("status") == "complete"
        summary = store.read_summary() if complete else None
    except IADBenchError as exc:  # an unreadable manifest or summary: nothing to serve or resume
        return _replace_or_refuse(plan, str(exc))
    if manifest is None:
        if store.holds_predictions():
            # Nothing says which configuration made them: resuming would file another
            # method's answers under this one.
            return _replace_or_refuse(
                plan,
                f"{plan.out} holds predictions but no {MANIFEST}, so nothing says which "
                "configuration made them and they cannot be resumed.",
            )
        return RunDirState(None)
    if conflict := config_conflict(manifest, plan):
        return _replace_or_refuse(plan, conflict)
    if summary is None:
        return _resume_or_refuse(store, plan, manifest, accept_unchained=False)
    problem = seal_problem(summary, store.predictions_path)
    if problem is None:
        return RunDirState(manifest, summary)
    if problem.unsealed:  # written before summaries were sealed: recomputed from predictions
        return _resume_or_refuse(store, plan, manifest, accept_unchained=True)
    return _replace_or_refuse(
        plan, f"{plan.out}: {problem}. A result that does not match its evidence is not served."
    )


def _resume_or_refuse(
    store: RunStore, plan: PlannedRun, manifest: dict[str, Any], *, accept_unchained: bool
) -> RunDirState:
    """Resume only predictions whose digest chain holds, else replace or refuse the dir.

    A partial file edited by hand (a label changed in line 1) was resumed into a sealed summary
    (issue 18).

    ``accept_unchained``: the run was completed by an iadbench from before the chain (its summary
    unsealed too), so its file carries no chain at all and is recomputed as it stands.
    """
    if problem := store.chain_problem(accept_unchained=accept_unchained):
        return _replace_or_refuse(
            plan,
            f"{plan.out}: {problem}. Predictions that cannot be checked are not resumed; start "
            "the run over.",
        )
    return RunDirState(manifest)


def _replace_or_refuse(plan: PlannedRun, reason: str) -> RunDirState:
    """``--overwrite``: clear the dir and start afresh; otherwise refuse with ``reason``."""
    if plan.request.overwrite:
        return RunDirState(None, discard=True)
    raise RunConflictError(f"{reason} Choose another --out, or pass --overwrite to replace it.")


def config_conflict(manifest: dict[str, Any], plan: PlannedRun) -> str | None:
    """Why the stored run is not this configuration's (hash or content), or None."""
    if manifest.get("config_hash") != plan.config_hash:
        return (
            f"{plan.out} holds a run of another configuration (hash "
            f"{str(manifest.get('config_hash'))[:12]}, this one {plan.config_hash[:12]}"
            f"{_config_difference(manifest.get('config'), plan.spec.config())}); "
            "its predictions cannot be reused."
        )
    if changed := _content_changes(manifest, plan):
        return (
            f"{plan.out} was made from {' and '.join(changed)} images whose contents have "
            "changed since, though their sizes and modification times have not "
            "(--verify-content); its predictions cannot be reused."
        )
    return None


# What a changed fingerprint means, for the message that refuses a run dir.
_FINGERPRINT_MEANING = "images replaced, added, removed or relabelled"


def _config_difference(stored: object, current: dict[str, Any]) -> str:
    """``": differs in test.fingerprint (...)"`` naming what changed, or ``""`` if unknown."""
    if not isinstance(stored, dict):
        return ""
    differences = []
    for key in sorted(set(stored) | set(current)):
        old, new = stored.get(key), current.get(key)
        if isinstance(old, dict) and isinstance(new, dict) and key in ("train", "test"):
            differences += [
                f"{key}.{sub}" for sub in sorted(set(old) | set(new))
                if sub != "root" and old.get(sub) != new.get(sub)
            ]  # fmt: skip
        elif old != new:
            differences.append(key)
    if not differences:
        return ""
    fingerprints = [d for d in differences if "fingerprint" in d]
    meaning = f" ({_FINGERPRINT_MEANING})" if fingerprints else ""
    return f": differs in {', '.join(differences)}{meaning}"


def _content_changes(manifest: dict[str, Any], plan: PlannedRun) -> list[str]:
    """Roles whose ``--verify-content`` digest differs from the one the run dir recorded."""
    recorded = manifest.get("content_fingerprints") or {}
    return [
        role
        for role, digest in plan.data.content.items()
        if isinstance(recorded, dict) and role in recorded and recorded[role] != digest
    ]
