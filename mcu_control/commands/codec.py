"""`mcu-control codec ping [POINT]` — is each room's video codec (and the recorder) reachable."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mcu_control.commands.common import emit, escape, group, load, run, table
from mcu_control.exitcodes import Exit

if TYPE_CHECKING:
    from profiles.codec import CodecConfig
    from profiles.loader import LoadedProfile
    from profiles.schema import PointConfig

app = group("Video codecs: reachability (SIP OPTIONS or H.323 connect).")


@app.command()
def ping(
    point: Annotated[
        str | None,
        typer.Argument(help="Point id; every codec and the recorder (concurrently) when omitted."),
    ] = None,
) -> None:
    """SIP OPTIONS (or H.323 TCP 1720) to each codec; exit 2 if any is unreachable."""
    loaded = load()
    targets = _targets(loaded, point)
    results = run(lambda: asyncio.gather(*(_ping_one(loaded, p, c) for p, c in targets)))
    ok = all(r["reachable"] for r in results)

    def human() -> Any:
        t = table("Codec reachability", "Point", "Device", "Method", "Result", "RTT")
        for r in results:
            mark = "[green]reachable[/]" if r["reachable"] else "[red]unreachable[/]"
            rtt = f"{r['rtt_ms']:.1f} ms" if r["rtt_ms"] is not None else "—"
            t.add_row(r["point"], r["device"], r["method"], f"{mark} {escape(r['detail'])}", rtt)
        return t

    emit({"ok": ok, "codecs": results}, human)
    if not ok:
        raise typer.Exit(Exit.CHECK_FAILED)


def recorder_codec_config(point: PointConfig) -> CodecConfig | None:
    """The central recorder's reachability check, as a codec section."""
    from profiles.codec import CodecConfig

    rec = point.recorder
    if rec is None:
        return None
    return CodecConfig(
        id=rec.id,
        name=rec.name,
        driver=rec.protocol,
        address=rec.address,
        host=rec.host,
        port=rec.port,
    )


async def _ping_one(loaded: LoadedProfile, point: PointConfig, cfg: CodecConfig) -> dict[str, Any]:
    from devices.errors import McuControlError
    from mcu_control.factory import build_codec

    row: dict[str, Any] = {
        "point": point.id,
        "device": cfg.id,
        "id": f"{point.id}.{cfg.id}",
        "driver": cfg.driver,
        "target": f"{cfg.host}:{cfg.effective_port}",
    }
    codec = build_codec(loaded, point, cfg)
    try:
        result = await codec.ping()  # bounded by the codec's own timeout_s
    except McuControlError as exc:  # ping reports, but a bug must not hide the others
        result = None
        row |= {"reachable": False, "rtt_ms": None, "detail": str(exc), "method": cfg.driver}
    finally:
        await codec.close()
    if result is not None:
        row |= {
            "reachable": result.reachable,
            "rtt_ms": result.rtt_ms,
            "detail": result.detail,
            "method": result.method,
        }
    return row


def _targets(loaded: LoadedProfile, point: str | None) -> list[tuple[PointConfig, CodecConfig]]:
    points = loaded.profile.points
    if point is not None:
        try:
            points = [loaded.profile.point(point)]
        except KeyError:
            known = ", ".join(p.id for p in loaded.profile.points)
            from devices.errors import ConfigError
            from mcu_control.commands.common import fail

            fail(ConfigError(f"unknown point {point!r}", hint=f"points are: {known}"))
    out: list[tuple[PointConfig, CodecConfig]] = []
    for p in points:
        out.append((p, p.codec))
        rec = recorder_codec_config(p)
        if rec is not None:
            out.append((p, rec))
    return out
