"""The quarterly report: figures per team and for the ward, for the quarter and the year to date,
written as an XLSX workbook (one sheet per view) and a PNG chart of the ward summary.
Nobody types anything: it is all computed from the logged sessions and the other features'
statistics providers (bot.stats)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from sqlmodel import Session, select

from bot import stats
from bot.models import Person
from handlers.teams import catalog as C
from handlers.teams import service as S
from handlers.teams.models import TeamSession


def figures(rows: list[TeamSession]) -> dict[str, int]:
    out = {k: 0 for k in C.FIGURES}
    for r in rows:
        out["sessions"] += 1
        for k in C.COUNTS:
            out[k] += getattr(r, k)
        for a, (col, _) in C.ACTIVITIES.items():
            out[a] += getattr(r, col)
    return out


def sessions_between(session: Session, start: date, end: date, group: str | None = None,
                     late: bool = False) -> list[TeamSession]:
    """The sessions that count (late=False), or those logged after their quarter was submitted and
    not counted until it is reopened (late=True)."""
    q = select(TeamSession).where(TeamSession.day >= start, TeamSession.day < end, TeamSession.late.is_(late))
    if group:
        q = q.where(TeamSession.group_code == group)
    return list(session.exec(q.order_by(TeamSession.day, TeamSession.id)))


LATE_LABEL = "Buổi ghi sau khi nộp (chưa tính)"


def _utc(d: date) -> datetime:
    return C.local_midnight(d).astimezone(timezone.utc)


@dataclass
class TeamStatus:
    group: str
    name: str
    leader: str
    deadline: date
    submitted_at: datetime | None
    status: str


@dataclass
class ReportData:
    ward: str
    year: int
    quarter: int
    scope: str | None  # a group code, or None for the whole ward
    groups: list[tuple[str, str]]  # (code, name)
    q_figs: dict[str, dict] = field(default_factory=dict)  # group code or "_ward" -> figures
    ytd_figs: dict[str, dict] = field(default_factory=dict)
    extra_keys: list[str] = field(default_factory=list)
    notes: list[tuple[date, str, str, str, str]] = field(default_factory=list)
    status: list[TeamStatus] = field(default_factory=list)
    late: dict[str, int] = field(default_factory=dict)  # group code -> sessions logged after submitting

    @property
    def title(self) -> str:
        who = dict(self.groups)[self.scope] if self.scope else self.ward
        return f"Báo cáo Tổ công nghệ số cộng đồng - {who} - {C.quarter_label(self.year, self.quarter)}"

    @property
    def total_key(self) -> str:
        return self.scope or C.WARD

    def keys(self) -> list[str]:
        return [*C.FIGURES, *self.extra_keys]

    @staticmethod
    def label(key: str) -> str:
        return C.FIGURE_LABELS.get(key) or stats.LABELS.get(key) or key


def build(app, session: Session, year: int, q: int, group: str | None = None,
          now: datetime | None = None) -> ReportData:
    now = now or app.clock.now()
    prof = app.profile
    groups = [(g.code, g.name) for g in prof.residential_groups if group is None or g.code == group]
    data = ReportData(ward=prof.ward.name, year=year, quarter=q, scope=group, groups=groups)
    qs, qe = C.quarter_days(year, q)
    ys = date(year, 1, 1)
    extra_keys: list[str] = []

    def extras(start: date, end: date, code: str | None) -> dict:
        got = stats.collect(session, _utc(start), _utc(end), code)
        for k in got:
            if k not in extra_keys:
                extra_keys.append(k)
        return got

    for code, _ in groups:
        data.q_figs[code] = {**figures(sessions_between(session, qs, qe, code)), **extras(qs, qe, code)}
        data.ytd_figs[code] = {**figures(sessions_between(session, ys, qe, code)), **extras(ys, qe, code)}
    if group is None:
        # The ward's session figures are the sum of its teams (sessions outside any current
        # residential group cannot exist: group codes come from the profile).
        for figs, start in ((data.q_figs, qs), (data.ytd_figs, ys)):
            total = {k: sum(figs[c].get(k, 0) for c, _ in groups) for k in C.FIGURES}
            figs[C.WARD] = {**total, **extras(start, qe, None)}
    data.extra_keys = extra_keys
    for r in sessions_between(session, qs, qe, group):
        if r.difficulties or r.good_practices:
            data.notes.append((r.day, dict(groups).get(r.group_code, r.group_code),
                               S.person_name(session.get(Person, r.author_id))
                               if r.author_id else "", r.difficulties or "", r.good_practices or ""))
    deadline = C.deadline_of(year, q, prof.team_reports.deadline_day)
    due = C.local_midnight(deadline)
    for code, name in groups:
        n_late = len(sessions_between(session, qs, qe, code, late=True))
        if n_late:
            data.late[code] = n_late
        sub = S.submission(session, code, year, q)
        leader = S.leader_of(session, code)
        if sub is not None:
            st = "Nộp muộn" if sub.submitted_at >= due else "Đã nộp"
        else:
            st = "Chưa nộp (quá hạn)" if now >= due else "Chưa nộp (chưa đến hạn)"
        data.status.append(TeamStatus(code, name, S.person_name(leader) if leader else "(chưa có)", deadline,
                                      sub.submitted_at if sub else None, st))
    return data


# --- files --------------------------------------------------------------------------------------
def paths(app, data: ReportData) -> tuple[Path, Path]:
    d = Path(app.settings.data_dir) / "reports" / "teams" / str(data.year)
    d.mkdir(parents=True, exist_ok=True)
    stem = f"q{data.quarter}-{data.scope or 'phuong'}"
    return d / f"{stem}.xlsx", d / f"{stem}.png"


def file_name(data: ReportData) -> str:
    who = data.scope or "toan-phuong"
    return f"bao-cao-to-cnscd-{who}-q{data.quarter}-{data.year}.xlsx"


def write_chart(data: ReportData, path: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = ["households", "people", "elderly", *C.ACTIVITIES]
    names = {"households": "Số hộ đã đến", "people": "Số người được hỗ trợ", "elderly": "Người cao tuổi"}
    labels = [names.get(k) or C.SHORT[k] for k in keys]
    qv = [data.q_figs[data.total_key].get(k, 0) for k in keys]
    yv = [data.ytd_figs[data.total_key].get(k, 0) for k in keys]
    fig, ax = plt.subplots(figsize=(10, 6), dpi=110)
    ys = list(range(len(keys)))
    h = 0.4
    ax.barh([y - h / 2 for y in ys], qv, height=h, label=C.cap(C.quarter_label(data.year, data.quarter)),
            color="#1f6feb")
    ax.barh([y + h / 2 for y in ys], yv, height=h, label=f"Lũy kế năm {data.year}", color="#f0a500")
    for y, v in zip(ys, qv):
        ax.text(v, y - h / 2, f" {v}", va="center", fontsize=8)
    for y, v in zip(ys, yv):
        ax.text(v, y + h / 2, f" {v}", va="center", fontsize=8)
    ax.set_yticks(ys, labels)
    ax.invert_yaxis()
    ax.set_title(data.title, fontsize=11)
    ax.legend(loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def write_xlsx(data: ReportData, path: Path, chart: Path | None = None) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    bold, head_fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    wb = Workbook()

    def header(ws, row: int, values: list) -> None:
        for i, v in enumerate(values, 1):
            c = ws.cell(row=row, column=i, value=v)
            c.font, c.fill = bold, head_fill
            c.alignment = Alignment(wrap_text=True, vertical="top")

    def title(ws, text: str) -> None:
        ws.cell(row=1, column=1, value=text).font = Font(bold=True, size=13)

    keys = data.keys()
    qlabel = C.cap(C.quarter_label(data.year, data.quarter))
    ylabel = f"Lũy kế năm {data.year}"
    everyone = [(c, n) for c, n in data.groups] + ([(C.WARD, "Toàn phường")] if data.scope is None else [])

    ws = wb.active
    ws.title = "Tổng hợp"
    title(ws, data.title)
    header(ws, 3, ["Chỉ tiêu", qlabel, ylabel])
    for i, k in enumerate(keys, 4):
        ws.cell(row=i, column=1, value=data.label(k))
        ws.cell(row=i, column=2, value=data.q_figs[data.total_key].get(k, 0))
        ws.cell(row=i, column=3, value=data.ytd_figs[data.total_key].get(k, 0))
    ws.column_dimensions["A"].width = 46
    ws.column_dimensions["B"].width = 16
    ws.column_dimensions["C"].width = 18
    if chart is not None and chart.exists():
        from openpyxl.drawing.image import Image
        img = Image(str(chart))
        img.width, img.height = img.width * 0.6, img.height * 0.6
        ws.add_image(img, "E3")

    ws = wb.create_sheet("Theo tổ")
    title(ws, f"Số liệu theo tổ - {qlabel} và {ylabel.lower()}")
    header(ws, 3, ["Tổ", "Kỳ", *(data.label(k) for k in keys)])
    row = 4
    for code, name in everyone:
        for period, figs in ((qlabel, data.q_figs), (ylabel, data.ytd_figs)):
            ws.cell(row=row, column=1, value=name)
            ws.cell(row=row, column=2, value=period)
            for j, k in enumerate(keys, 3):
                ws.cell(row=row, column=j, value=figs[code].get(k, 0))
            row += 1
    ws.column_dimensions["A"].width = 22
    ws.column_dimensions["B"].width = 18

    ws = wb.create_sheet("Theo hoạt động")
    title(ws, f"Số liệu theo hoạt động - {qlabel}")
    header(ws, 3, ["Hoạt động", *(n for _, n in everyone), ylabel])
    for i, k in enumerate(keys, 4):
        ws.cell(row=i, column=1, value=data.label(k))
        for j, (code, _) in enumerate(everyone, 2):
            ws.cell(row=i, column=j, value=data.q_figs[code].get(k, 0))
        ws.cell(row=i, column=len(everyone) + 2, value=data.ytd_figs[data.total_key].get(k, 0))
    ws.column_dimensions["A"].width = 46

    ws = wb.create_sheet("Khó khăn, cách làm hay")
    title(ws, f"Khó khăn và cách làm hay từ ghi chú các buổi hỗ trợ - {qlabel}")
    header(ws, 3, ["Ngày", "Tổ", "Người ghi", "Khó khăn", "Cách làm hay"])
    for i, (d, team, who, diff, good) in enumerate(data.notes, 4):
        for j, v in enumerate((d.strftime("%d/%m/%Y"), team, who, diff, good), 1):
            ws.cell(row=i, column=j, value=v).alignment = Alignment(wrap_text=True, vertical="top")
    for col, w in zip("ABCDE", (12, 18, 20, 60, 60)):
        ws.column_dimensions[col].width = w

    ws = wb.create_sheet("Tình trạng nộp")
    title(ws, f"Tình trạng nộp báo cáo {C.quarter_label(data.year, data.quarter)}")
    header(ws, 3, ["Tổ", "Tổ trưởng", "Hạn nộp (trước 0h ngày)", "Trạng thái", "Thời điểm nộp", "Số buổi trong quý",
                   LATE_LABEL])
    from bot.clock import fmt_local
    for i, st in enumerate(data.status, 4):
        vals = (st.name, st.leader, st.deadline.strftime("%d/%m/%Y"), st.status,
                fmt_local(st.submitted_at) if st.submitted_at else "", data.q_figs[st.group]["sessions"],
                data.late.get(st.group, 0))
        for j, v in enumerate(vals, 1):
            ws.cell(row=i, column=j, value=v)
    for col, w in zip("ABCDEFG", (22, 24, 22, 24, 18, 16, 24)):
        ws.column_dimensions[col].width = w
    # openpyxl writes a string starting with "=" as a formula; notes and names are typed by people
    # (a Telegram name "=HYPERLINK(...)"), and this sheet has no formulas of its own: all text
    for sheet in wb.worksheets:
        for row in sheet.iter_rows():
            for c in row:
                if c.data_type == "f":
                    c.data_type = "s"
    wb.save(path)
    return path


def generate(app, session: Session, year: int, q: int, group: str | None = None) -> tuple[ReportData, Path, Path]:
    data = build(app, session, year, q, group)
    xlsx, png = paths(app, data)
    write_chart(data, png)
    write_xlsx(data, xlsx, chart=png)
    return data, xlsx, png


def short_text(data: ReportData) -> str:
    f, y = data.q_figs[data.total_key], data.ytd_figs[data.total_key]
    lines = [f"{data.title}", f"(số trong quý / lũy kế năm {data.year})"]
    for k in ("sessions", "households", "people", "elderly", "vulnerable", *C.ACTIVITIES, *data.extra_keys):
        lines.append(f"• {C.SHORT.get(k) or data.label(k)}: {f.get(k, 0)} / {y.get(k, 0)}")
    late = sum(n for code, n in data.late.items() if data.scope in (None, code))
    if late:
        lines.append(f"⚠ {late} buổi ghi sau khi tổ đã nộp báo cáo, chưa tính (tổ trưởng quyết định mở lại).")
    return "\n".join(lines)
