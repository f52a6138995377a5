"""Where messages go: commands, button callbacks, multi-step flows, and message kinds.

Feature modules (handlers/*) call `register(router)`; the engine knows no feature by name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable

if TYPE_CHECKING:
    from bot.context import Context

Handler = Callable[["Context"], None]


@dataclass
class CommandSpec:
    name: str
    fn: Callable[["Context", str], None]
    help: str  # Vietnamese, shown in /help and the platforms' command menus
    roles: tuple[str, ...] = ()  # empty: everyone
    keeps_flow: bool = False  # True: may be used in the middle of a form without ending it
    menu: bool = True  # listed in the platforms' command menus
    aliases: tuple[str, ...] = ()


class Flow:
    """A multi-step form. State lives in ctx.state (the conversation row), so it survives
    restarts; each step is a method `on_<step>(ctx)` called with the next message."""

    name: str = ""
    title: str = ""  # Vietnamese, e.g. "phản ánh hiện trường", used in "bạn đang điền dở ..."
    roles: tuple[str, ...] = ()  # checked again at every step: a role revoked mid-form stops it
    reads_typed_options: bool = False  # True: matches typed answers to its own buttons (bot/forms.py)

    def handle(self, ctx: "Context") -> None:
        step = ctx.conv.step or "start"
        fn = getattr(self, f"on_{step}", None)
        if fn is None:
            ctx.end_flow()
            ctx.reply("Biểu mẫu này đã thay đổi, mời bạn bắt đầu lại.")
            return
        fn(ctx)


@dataclass
class Router:
    commands: dict[str, CommandSpec] = field(default_factory=dict)
    callbacks: dict[str, Callable[["Context", str], None]] = field(default_factory=dict)
    flows: dict[str, Flow] = field(default_factory=dict)
    kind_handlers: dict[str, Handler] = field(default_factory=dict)
    understanding_filters: list[Callable[["Context", object], object]] = field(default_factory=list)
    media_handlers: list[Callable[["Context"], bool]] = field(default_factory=list)
    text_handlers: list[Callable[["Context"], bool]] = field(default_factory=list)
    erasure_hooks: list[Callable[["Context"], None]] = field(default_factory=list)
    startup_hooks: list[Callable[[object], None]] = field(default_factory=list)
    role_labels: dict[str, str] = field(default_factory=dict)

    def command(self, name: str, help: str, roles: Iterable[str] = (), keeps_flow: bool = False,
                menu: bool = True, aliases: Iterable[str] = ()):
        def deco(fn):
            spec = CommandSpec(name, fn, help, tuple(roles), keeps_flow, menu, tuple(aliases))
            for n in (name, *aliases):
                if n in self.commands:
                    raise ValueError(f"command /{n} registered twice")
                self.commands[n] = spec
            return fn
        return deco

    def callback(self, prefix: str):
        def deco(fn):
            if prefix in self.callbacks or prefix in self.flows:
                raise ValueError(f"button prefix {prefix!r} registered twice")
            self.callbacks[prefix] = fn
            return fn
        return deco

    def flow(self, flow: Flow) -> Flow:
        if flow.name in self.flows or flow.name in self.callbacks:
            raise ValueError(f"flow {flow.name!r} registered twice")
        self.flows[flow.name] = flow
        return flow

    def on_kind(self, kind: str, fn: Handler) -> None:
        self.kind_handlers[kind] = fn

    def on_understood(self, fn: Callable[["Context", object], object]) -> None:
        """fn(ctx, understanding) -> understanding, before the kind's handler is chosen: the
        conversation's context and policies refine what one message alone says."""
        self.understanding_filters.append(fn)

    def on_media(self, fn: Callable[["Context"], bool]) -> None:
        """fn returns True when it took a photo/location sent outside any form."""
        self.media_handlers.append(fn)

    def on_text(self, fn: Callable[["Context"], bool]) -> None:
        """fn returns True when it took a free-text message (outside any form) before the
        understander sees it, e.g. a team member's one-message session log."""
        self.text_handlers.append(fn)

    def on_erase(self, fn: Callable[["Context"], None]) -> None:
        self.erasure_hooks.append(fn)

    def on_startup(self, fn: Callable[[object], None]) -> None:
        self.startup_hooks.append(fn)

    def menu(self, roles: set[str]) -> list[CommandSpec]:
        seen, out = set(), []
        for spec in self.commands.values():
            if spec.name in seen or not spec.menu:
                continue
            if spec.roles and not (roles & set(spec.roles)):
                continue
            seen.add(spec.name)
            out.append(spec)
        return out
