"""``gsp info/dump/verify/repair/trim/cat``: the session-log tools on the command line.

Positions (``--from``/``--to``) accept seconds (``2.5`` or ``2.5s``), a rendered frame
(``#12`` or ``f12``, counting from 1), a marker (``@label``, ``@label#2``) or a sequence number (``seq:40``).

Exit status (docs/format.md §4): 0 done; 1 a log that is damaged or cannot be read, or an
output that cannot be written (``verify``: damaged or inconsistent; ``repair``: an output that
still cannot replay); 2 a usage error, an argument that does not parse or does not fit the log
(``sessions.errors.BadArgumentError``), as ``gsp-replay`` exits for it; 141 a reader gone.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from gsplog_cli.scene_limit import limits_for, max_scene_option
from gsplog_cli.signals import sigterm_as_ctrl_c

POSITION_HELP = ("seconds ('2.5', '2.5s'), frame ('#12', 'f12'), marker ('@label'; '@label#2' the second of a label "
                 "that repeats) or 'seq:N'")
STOP_HELP = f"Stop before this: {POSITION_HELP}; a frame is kept up to its render, as gsp-replay --to draws it"


def _position(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    from sessions.position import parse_at

    try:
        return parse_at(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@contextmanager
def _progress(total: int | None, unit: str, desc: str) -> Iterator[Callable[[int], None] | None]:
    """A tqdm bar on stderr when it is a terminal, else nothing."""
    if not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    with tqdm(total=total, unit=unit, unit_scale=True, desc=desc, file=sys.stderr, leave=False) as bar:
        yield bar.update


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


@contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Warnings (damage read up to, a footer rebuilt, values skipped) as ``warning: ...`` lines
    on stderr, as gsp-replay prints them, each text once: not Python's
    ``file.py:75: UserWarning:`` form with a line of the tool's source."""
    seen: set[str] = set()

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: Any = None, line: str | None = None) -> None:
        text = _one_line(message)
        if text not in seen:
            seen.add(text)
            click.echo(f"warning: {text}", err=True)

    with warnings.catch_warnings():  # the filters stay (DeprecationWarning ignored, ...)
        warnings.showwarning = show
        yield


class ArgumentFailure(click.ClickException):
    """An argument that does not fit the log (``sessions.errors.BadArgumentError``): one line,
    exit status 2, as click gives a bad option and gsp-replay any error of its arguments."""

    exit_code = 2


@contextmanager
def _log_errors() -> Iterator[None]:
    """Bad logs become one clear line and exit status 1, not a traceback; arguments that do not
    fit the log (a range, a marker, an output that is the input) one line and status 2; a reader
    that stops early (``gsp dump log | head``) ends the command quietly (``gsplog_cli.main``:
    exit status 141). Warnings become ``warning: ...`` lines."""
    from sessions.errors import BadArgumentError, CommandError, LogFormatError, LogWriteError

    try:
        with _warnings_as_lines():
            yield
    except BrokenPipeError:
        raise  # not a bad log: the gsp group ends the command quietly
    except BadArgumentError as error:
        raise ArgumentFailure(_one_line(error)) from None
    except LogFormatError as error:
        # Damage inside the log (not a file that is no log): its intact chunks can be kept.
        hint = "; `gsp repair` keeps its intact chunks" if error.chunk_index is not None else ""
        raise click.ClickException(_one_line(error) + hint) from None
    except (LogWriteError, CommandError, ValueError, OSError) as error:
        raise click.ClickException(_one_line(error)) from None


_PATH = click.Path(exists=True, dir_okay=False)


#: ``gsp info`` names this many markers at each end of the session; --markers names them all.
MARKERS_SHOWN = 5


@click.command()
@click.argument("log", type=_PATH)
@click.option("--json", "as_json", is_flag=True,
              help="Print the summary as JSON (every marker; fields: docs/format.md, section 4).")
@click.option("--markers", "all_markers", is_flag=True,
              help=f"List every marker [default: the first and last {MARKERS_SHOWN}, and how many more].")
def info(log: str, as_json: bool, all_markers: bool) -> None:
    """Summarise the session log LOG.

    The counts are of what a reader reads: on a damaged log, the chunks before the damage.
    Times (the first and last command's, the markers') count from the session's start, as
    --from/--to seconds do; the duration is from the first command to the last. Each marker is
    named as --from/--to take it: @label, or @label#2 for the second of a label that repeats,
    followed by the info it holds (recorder.mark("stimulus", intensity=0.5)). A log made by gsp
    trim, cat or repair says where it came from: each source log and how it ended, or what its
    repair lost.

    Exit status: 0; 1 for a log that cannot be read."""
    from sessions import tools

    with _log_errors(), _progress(None, "chunk", "info") as bar:
        summary = tools.info(log, progress=bar)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    meta = summary["metadata"]
    footer = summary["footer"]
    if summary["complete"]:
        state = ""
    elif footer is None:
        # No footer and trailer at the file's end: never closed (a crash, still being written),
        # or bytes were added after them. Either way the chunks were found by scanning.
        state = " (no footer at its end: unterminated or with bytes after it; read by scanning, `gsp verify` says which)"
    else:  # a valid footer, but a chunk it lists is damaged: the counts below stop there
        state = (f" (damaged: read up to the damage; the footer lists {footer['chunks']} chunks, "
                 f"{footer['commands']} commands, {footer['frames']} frames)")
    click.echo(f"{summary['path']}: gsplog {summary['format']}, {summary['size_bytes']} bytes{state}")
    click.echo(f"  created   {meta.get('created', '?')} on {meta.get('host', '?')}, protocol {meta.get('protocol', '?')}")
    click.echo(f"  duration  {summary['duration_s']:.3f} s from the first command to the last, {summary['commands']} "
               f"commands, {summary['frames']} frames")
    click.echo(f"  chunks    {summary['chunks']} {summary['chunk_kinds']}, {summary['keyframes']} keyframes")
    ratio = summary["raw_bytes"] / summary["stored_bytes"] if summary["stored_bytes"] else 1.0
    click.echo(f"  bytes     {summary['raw_bytes']} raw, {summary['stored_bytes']} stored (x{ratio:.2f})")
    if summary["seq_range"]:
        click.echo(f"  seq       {summary['seq_range'][0]}..{summary['seq_range'][1]}")
    if summary["first_t_s"] is not None:  # the clock of --from/--to seconds and of the markers below
        click.echo(f"  time      {summary['first_t_s']:.3f}..{summary['last_t_s']:.3f} s since the session started "
                   "(as --from/--to seconds and marker times count)")
    for op, count in summary["commands_per_op"].items():
        click.echo(f"  op        {op:32s} {count}")
    markers = summary["markers"]
    left_out = len(markers) - 2 * MARKERS_SHOWN
    if not all_markers and left_out > 1:  # a line "... 1 more" would save nothing
        markers = [*markers[:MARKERS_SHOWN], None, *markers[-MARKERS_SHOWN:]]
    for marker in markers:
        if marker is None:
            click.echo(f"  marker    ... {left_out} more (--markers lists them all)")
        else:
            info = _shortened(json.dumps(marker["info"])) if marker["info"] else ""  # recorder.mark(label, **info)
            info = f"  {info}" if info else ""
            click.echo(f"  marker    {marker['position']} seq {marker['seq']} at {marker['t_s']:.3f} s{info}")
    if meta.get("user"):
        click.echo(f"  user      {json.dumps(meta['user'])}")
    for line in _provenance_lines(meta):
        click.echo(line)
    for problem in summary["problems"]:
        click.echo(f"  problem   {problem}")


_ENDED = {"complete": "ended cleanly", "footer damaged": "its footer was damaged (every chunk intact)",
          "unterminated": "no footer: its recorder was killed, or was still writing"}


def _provenance_lines(meta: dict[str, Any]) -> list[str]:
    """What `gsp trim`, `cat` and `repair` wrote of the logs they read (``source_file``,
    ``source_files``, ``repaired``), one line each: which files, how each ended, what was lost."""
    lines = []
    sources = meta.get("source_files")
    sources = [meta["source_file"]] if isinstance(meta.get("source_file"), dict) else sources
    for source in sources if isinstance(sources, list) else []:
        if not isinstance(source, dict):
            continue
        ended = _ENDED.get(str(source.get("ended")), str(source.get("ended")))
        if source.get("incomplete_tail"):
            ended += ", its last chunk cut short"
        if source.get("ended") == "unterminated" and source.get("last_seq") is not None:
            ended += f"; read up to seq {source['last_seq']} at {source.get('last_t_s') or 0:.3f} s"
        lines.append(f"  source    {source.get('path')}: {ended}")
    repaired = meta.get("repaired")
    if isinstance(repaired, dict):
        done = []
        lost = [d for d in repaired.get("lost", []) if isinstance(d, dict)]
        if lost:
            done.append(f"lost {lost_text(lost)}")
        if repaired.get("header"):
            done.append(f"header {repaired['header']}")
        if repaired.get("incomplete_tail_bytes"):
            done.append(f"an incomplete tail of {repaired['incomplete_tail_bytes']} bytes dropped")
        if repaired.get("footer"):
            done.append(f"footer {repaired['footer']}")
        dropped = repaired.get("dropped_before_keyframe")
        if isinstance(dropped, dict):
            done.append(f"starts at the keyframe at seq {repaired.get('started_at_keyframe_seq')}, "
                        f"{dropped.get('chunks')} intact chunk(s) before it left out ({_seqs(dropped.get('seq_range'))})")
        dangling = repaired.get("dangling")
        if isinstance(dangling, dict):
            done.append(f"{dangling.get('commands')} commands name objects created in what was lost (no replay "
                        "from the start)")
        lines.append(f"  repaired  from {repaired.get('from')}" + (f": {'; '.join(done)}" if done else ""))
    return lines


def _shortened(text: str, most: int = 120) -> str:
    """``text``, cut to ``most`` characters with ``...`` when longer (``--json`` has it whole)."""
    return text if len(text) <= most else text[: most - 3] + "..."


@click.command()
@click.argument("log", type=_PATH)
@click.option("--from", "start", callback=_position, help=f"Start here: {POSITION_HELP}.")
@click.option("--to", "stop", callback=_position, help=f"{STOP_HELP}.")
@click.option("--full", is_flag=True, help="Print arrays and byte strings in full (default: summaries).")
@click.option("--with-state", is_flag=True,
              help="With --from: first print the commands that rebuild the scene there (its last keyframe, "
                   "then the commands after it); on a log cut by `gsp trim`, also without --from: the "
                   "keyframe it opens with.")
def dump(log: str, start: Any, stop: Any, full: bool, with_state: bool) -> None:
    """Print the commands of LOG as JSON lines (keyframes left out unless --with-state).

    A NaN or infinite float is printed as {"$float": "NaN"}, {"$float": "Infinity"} or
    {"$float": "-Infinity"}: every line is valid JSON. A transform link prints as recorded,
    {"$link": {"link_type": ..., ...}}, of your own type too; a command holding a value this
    version cannot decode is left out with a warning line naming it.

    Exit status: 0; 1 for a log that cannot be read; 2 for a bad --from/--to (one that does not
    parse, a range that ends before it starts or starts past the session's end, a marker the
    log does not hold).
    """
    from sessions import tools

    with _log_errors(), _progress(None, "cmd", "dump") as bar:
        stdout = sys.stdout
        tools.dump(log, stdout, start=start, stop=stop, full=full, with_state=with_state, progress=bar)


@click.command()
@click.argument("log", type=_PATH)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (fields: docs/format.md, section 4).")
def verify(log: str, as_json: bool) -> None:
    """Check every checksum and the index of LOG, and that every object its commands name is
    created before them (a log that lost the chunk creating one cannot replay past it).

    Exit status 0: intact; 1: damaged, or commands name objects no earlier command creates."""
    from sessions import tools

    with _log_errors(), _progress(os.path.getsize(log), "B", "verify") as bar:
        report = tools.verify(log, progress=bar)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        for line in _verify_lines(log, report):
            click.echo(line)
    sys.exit(0 if report.ok else 1)


def _seqs(seq_range: list[int] | None) -> str:
    return "" if seq_range is None else f"seq {seq_range[0]}..{seq_range[1]}"


def lost_text(lost: list[dict[str, Any]]) -> str:
    """Damaged regions in words: ``chunk 0: seq 1..33; chunk 5: its seqs unknown``."""
    shown = [f"chunk {d['chunk']}: {_seqs(d.get('seq_range')) or 'its seqs unknown'}" for d in lost[:3]]
    return "; ".join(shown) + (f"; {len(lost) - 3} more" if len(lost) > 3 else "")


def _dangling_text(count: int, first: list[dict[str, Any]]) -> str:
    """``42 commands name objects that no earlier command creates, the first seq 35
    Buffer.set_data (object 9d79...)`` (``--json`` lists more)."""
    named = "s name objects" if count > 1 else " names an object"
    head = f", the first seq {first[0]['seq']} {first[0]['op']} (object {first[0]['object']})" if first else ""
    return f"{count} command{named} that no earlier command creates{head}"


def _verify_lines(log: str, report: Any) -> list[str]:
    """``gsp verify``'s report in words: what is wrong, what readers make of it, and what
    ``gsp repair`` can do (nothing, for a file without a header or an intact chunk: it is not
    advised then)."""
    broken = not report.ok and (report.damaged or report.tail_incomplete_bytes or not report.header_ok
                                or not (report.footer_ok and report.trailer_ok) or report.after_end_bytes)
    state = "OK" if report.ok else "DAMAGED" if broken else "INCONSISTENT"
    seqs = f" ({_seqs(report.seq_range)})" if report.seq_range else ""
    lines = [f"{log}: {state}: {report.chunks_ok} intact chunks, {report.commands_ok} commands{'' if report.ok else seqs}"]
    if not report.header_ok:  # no reader opens the file; its chunks can still be kept
        if report.chunks_ok:
            lines.append("  header damaged: no reader can open this file; `gsp repair` keeps its intact chunks "
                         "under a new header (the session's metadata, such as its wall-clock start, is lost)")
        else:
            lines.append("  header damaged or missing, and no intact chunk: nothing in this file can be read")
    else:
        if report.footer_offset is None:
            lines.append("  no footer index (the log was not closed: a crash, or still being written); readers "
                         "rebuild it by scanning")
        elif not report.footer_ok:
            lines.append(f"  footer index at offset {report.footer_offset} damaged: {report.footer_problem}; "
                         "readers rebuild it by scanning")
        if report.footer_offset is not None and not report.trailer_ok:
            lines.append("  trailer (the 24 bytes after the footer) damaged or missing: readers rebuild the index "
                         "by scanning")
        if report.after_end_bytes:
            lines.append(f"  {report.after_end_bytes} bytes after the end of the log (after its trailer): readers "
                         "ignore them")
        if report.tail_incomplete_bytes:
            lines.append(f"  {report.tail_incomplete_bytes} bytes of an incomplete last chunk (cut short by the end "
                         "of the file)")
    for damage in report.damaged:
        where = "the header" if damage["chunk"] is None else f"chunk {damage['chunk']}"
        if damage.get("seq_range"):
            where += f", {_seqs(damage['seq_range'])}"
        lines.append(f"  damaged at offset {damage['offset']} ({where}): {damage['reason']}")
    for wrong in report.out_of_order:
        lines.append(f"  out of order at offset {wrong['offset']} (chunk {wrong['chunk']}): {wrong['reason']}: seeks "
                     "and positions (found by seq) go wrong around it")
    if report.out_of_order_chunks > len(report.out_of_order):
        lines.append(f"  {report.out_of_order_chunks} chunks out of order in all")
    if report.dangling_commands:
        why = " (most likely lost with the damaged chunks)" if report.damaged else ""
        lines.append(f"  {_dangling_text(report.dangling_commands, report.dangling)}: a replay cannot apply "
                     f"them{why}")
        repaired = repaired_metadata(log)
        if repaired is not None:
            lost = [d for d in repaired.get("lost", []) if isinstance(d, dict)]
            what = f", which lost {lost_text(lost)}" if lost else ""
            lines.append(f"  this log was repaired from {repaired.get('from')}{what}: the objects were most likely created in "
                         "what was lost")
    if not report.ok and report.header_ok:
        if report.damaged or report.tail_incomplete_bytes:
            if report.last_intact_seq is None:
                prefix = "no command before the first damage is intact"
            else:
                prefix = f"intact prefix {report.intact_prefix_bytes} bytes, up to seq {report.last_intact_seq}"
            lines.append(f"  recoverable: {report.chunks_ok} chunks{seqs}; {prefix}; {_repair_advice(report)}")
        elif not (report.footer_ok and report.trailer_ok) or report.after_end_bytes:
            lines.append("  every chunk is intact; `gsp repair` writes them again with a valid footer and trailer")
    return lines


#: Why `gsp repair` keeps every intact chunk of a log whose kept commands name lost objects.
_NO_RESTART = "no intact keyframe follows the damage, or frames drawn before it replay"


def _repair_advice(report: Any) -> str:
    """What `gsp repair` makes of a damaged log, said by `gsp verify`."""
    if report.restart_keyframe_seq is not None:
        return (f"`gsp repair` starts its output at the keyframe at seq {report.restart_keyframe_seq}, the first "
                "intact one after the damage, so that it replays (the intact chunks before it draw no frame "
                "before a command naming a lost object: --keep-all keeps them)")
    if report.dangling_commands:
        return (f"`gsp repair` keeps every intact chunk, but {_NO_RESTART}: its output "
                "will not replay from its start (`gsp dump` reads it)")
    return "`gsp repair` keeps every intact chunk"


def repaired_metadata(log: str) -> dict[str, Any] | None:
    """What the header of ``log`` says under ``repaired`` (a log written by `gsp repair`)."""
    from sessions.errors import LogFormatError
    from sessions.tools import _header_metadata

    try:
        repaired = _header_metadata(log).get("repaired")
    except (LogFormatError, OSError):
        return None
    return repaired if isinstance(repaired, dict) else None


def _output_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """OUTPUT as a second argument or as ``-o/--output`` (as ``gsp cat`` and ``gsp record`` take it)."""
    function = click.option("-o", "--output", "output_option", type=click.Path(dir_okay=False), default=None,
                            help="The log to write (or give it as OUTPUT).")(function)
    return click.argument("output", type=click.Path(dir_okay=False), required=False)(function)


def _one_output(output: str | None, output_option: str | None) -> str:
    if output is not None and output_option is not None and output != output_option:
        raise click.UsageError(f"two outputs given: OUTPUT {output} and --output {output_option}")
    chosen = output if output is not None else output_option
    if chosen is None:
        raise click.UsageError("missing the log to write: give OUTPUT or -o/--output")
    return chosen


@click.command()
@click.argument("log", type=_PATH)
@_output_options
@click.option("--keep-all", is_flag=True,
              help="Keep every intact chunk, also those before the keyframe a log whose start is lost is "
                   "started at (they name objects created in the lost chunks: no replay can apply them).")
def repair(log: str, output: str | None, output_option: str | None, keep_all: bool) -> None:
    """Rewrite LOG as OUTPUT keeping its intact chunks, with a valid footer index.

    When the damage took the log's start and the commands after it name objects created there,
    OUTPUT starts at the first intact keyframe after the damage, so that it replays (unless
    --keep-all). OUTPUT's metadata says, under "repaired", what was lost and left out (gsp info
    shows it).

    Exit status: 0; 1 for a log with nothing to keep, an output that cannot be written, or an
    OUTPUT written whose commands still name objects that only the lost chunks created (it does
    not replay from its start); 2 for an OUTPUT that is LOG."""
    from sessions import tools

    output = _one_output(output, output_option)
    with sigterm_as_ctrl_c(), _log_errors(), _progress(2 * os.path.getsize(log), "B", "repair") as bar:
        report = tools.repair(log, output, progress=bar, keep_all=keep_all)
    lost = [d for d in report.damaged if d["chunk"] is not None]
    dropped = f"dropped {len(lost)} damaged region{'' if len(lost) == 1 else 's'}"
    if lost:
        dropped += f" ({lost_text(lost)})"
    if report.tail_incomplete_bytes:
        dropped += f" and an incomplete tail of {report.tail_incomplete_bytes} bytes"
    click.echo(f"{output}: kept {report.output_chunks} chunks ({report.output_commands} commands); {dropped}")
    if report.started_at_keyframe_seq is not None:
        before = f" ({_seqs(report.dropped_seq_range)})" if report.dropped_seq_range else ""
        click.echo(f"{output}: starts at the keyframe at seq {report.started_at_keyframe_seq}, the first intact one "
                   f"after the damage: the {report.dropped_chunks} intact chunk{'' if report.dropped_chunks == 1 else 's'} "
                   f"before it{before} drew no frame before a command naming an object created in the lost chunks, "
                   "so no replay could pass it (--keep-all keeps them)")
    if report.output_dangling_commands and not (report.damaged or report.tail_incomplete_bytes):
        raise click.ClickException(  # nothing was lost: the log was written so (not by a recorder)
            f"{output}: written, but {_dangling_text(report.output_dangling_commands, report.output_dangling)}, "
            f"and no command of {log} was lost: it was made so, and does not replay from its start "
            "(`gsp dump` reads its commands)")
    if report.output_dangling_commands:
        raise click.ClickException(
            f"{output}: written, but the kept commands depend on lost ones: "
            f"{_dangling_text(report.output_dangling_commands, report.output_dangling)}: it does not replay from "
            f"its start ({_why_not_restarted(report, keep_all)}"
            "`gsp dump` reads its commands; its metadata, under \"repaired\", says what was lost)")


def _why_not_restarted(report: Any, keep_all: bool) -> str:
    """Why a repaired output whose commands name lost objects does not start at a keyframe."""
    if report.started_at_keyframe_seq is not None:
        return ""
    if keep_all and report.restart_keyframe_seq is not None:
        return f"--keep-all kept the chunks before the keyframe at seq {report.restart_keyframe_seq}, where it would start; "
    return f"{_NO_RESTART}; "



@click.command()
@click.argument("log", type=_PATH)
@_output_options
@click.option("--from", "start", callback=_position, help=f"Start: {POSITION_HELP}.")
@click.option("--to", "stop", callback=_position, help=f"{STOP_HELP}.")
@max_scene_option
def trim(log: str, output: str | None, output_option: str | None, start: Any, stop: Any,
         max_scene_gib: float | None) -> None:
    """Cut a self-contained log OUTPUT (opening with a keyframe) out of LOG (which may itself be a cut).

    Transform links are copied as recorded, of your own types too (no --links needed: no chain
    runs). A command holding a value this version cannot decode is refused (exit status 1,
    nothing written), not left out. A LOG that did not end cleanly (no footer: its recorder was
    killed) is cut up to its last intact command, with a warning; OUTPUT's metadata says how LOG
    ended (gsp info shows it).

    Exit status: 0; 1 for a log that cannot be read or cut (a damaged chunk, an undecodable
    value, --max-scene-gib) or an output that cannot be written; 2 for a bad --from/--to (as
    gsp dump) or an OUTPUT that is LOG."""
    from sessions import tools

    output = _one_output(output, output_option)
    with sigterm_as_ctrl_c(), _log_errors(), _progress(None, "cmd", "trim") as bar:
        count = tools.trim(log, output, start, stop, progress=bar, limits=limits_for(max_scene_gib))
    click.echo(f"{output}: {count} command{'' if count == 1 else 's'}")
    if count == 0:  # a valid file, but likely not what was meant
        click.echo(f"warning: no command of {log} falls in the range: {output} holds only the scene as it "
                   "stood at its start", err=True)


@click.command()
@click.argument("logs", nargs=-1, required=True, type=_PATH)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The concatenated log.")
def cat(logs: tuple[str, ...], output: str) -> None:
    """Concatenate LOGS into OUTPUT, each session's seq and time following the previous one's.

    Logs cut by `gsp trim` may be joined: the scene each one opens with is written as plain
    commands, so every part replays the frames it held. OUTPUT's metadata keeps the first
    log's own (user, recorder) and every log's whole header metadata, in order, as "sources".
    Transform links are copied as recorded and a command that cannot be decoded is refused, as
    by `gsp trim`. A log that did not end cleanly is joined up to its last intact command, with
    a warning; OUTPUT's metadata says how each log ended ("source_files", shown by gsp info).

    Exit status: 0; 1 for a log that cannot be read or an output that cannot be written; 2 for
    an OUTPUT that is one of LOGS.
    """
    from sessions import tools

    with sigterm_as_ctrl_c(), _log_errors(), _progress(None, "cmd", "cat") as bar:
        count = tools.cat(list(logs), output, progress=bar)
    click.echo(f"{output}: {count} commands from {len(logs)} logs")
