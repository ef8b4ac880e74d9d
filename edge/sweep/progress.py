"""The sweep's progress: a bar with cells done / failed / running on a terminal, one line per cell elsewhere."""

from __future__ import annotations

import time


class SweepProgress:
    def __init__(self, total: int, resumed: int, failed: int = 0, console=None, enabled: bool = True):
        from common.quiet import stderr_console

        self.console = console or stderr_console()
        self.total, self.done, self.failed, self.running = total, resumed, failed, 0
        self.enabled = enabled
        self.start = time.perf_counter()
        self.bar = None
        if enabled and self.console.is_terminal:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("[bold]sweep[/]"),
                BarColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=False,
            )
            self.task = self.bar.add_task(self._text(), total=total, completed=resumed + failed)
            self.bar.start()
        if enabled and (resumed or failed):
            self.note(f"sweep: {resumed + failed} of {total} cells already done ({failed} of them failed before)")

    def _text(self) -> str:
        return (
            f"{self.done + self.failed}/{self.total} cells: [green]{self.done} done[/], "
            f"[red]{self.failed} failed[/], [yellow]{self.running} running[/]"
        )

    def cell(self, title: str, status: str, detail: str = "") -> None:
        if status == "error":
            self.failed += 1
        else:
            self.done += 1
        if not self.enabled:
            return
        colour = {"ok": "green", "error": "red", "skipped": "yellow"}.get(status, "white")
        line = f"[dim]{time.perf_counter() - self.start:6.1f}s[/] [{colour}]{status:7}[/] {title}" + (
            f"  {detail}" if detail else ""
        )
        if self.bar is not None:
            self.bar.console.print(line)
            self.bar.update(self.task, completed=self.done + self.failed, description=self._text())
        else:
            self.console.print(f"[{self.done + self.failed}/{self.total}] " + line, highlight=False)

    def set_running(self, running: int) -> None:
        if running != self.running:
            self.running = running
            if self.bar is not None:
                self.bar.update(self.task, description=self._text())

    def note(self, text: str) -> None:
        if self.enabled:
            (self.bar.console if self.bar is not None else self.console).print(text, highlight=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
