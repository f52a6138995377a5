"""The back office and the resident web chat in a real browser (headless chromium via
Playwright): a resident files a report with a photo and their location from the phone-sized web
chat; staff log in, accept and resolve it; the resident sees the outcome appear without reloading.
Staff edit a knowledge-base entry and the resident gets the new answer; staff create a class.
Screenshots of every page at phone and desktop width are kept under tests/artifacts/."""
from __future__ import annotations

import re
import shutil
from dataclasses import replace

import pytest

from bot.config import ROOT
from tests.admin_helpers import PASSWORD, make_account
from tests.browser_helpers import DESKTOP, PHONE, LiveServer, jpeg, launch, need_browser, shot
from tests.reports_helpers import FakeNLU

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture
def app(make_app, settings, understander, tmp_path):
    need_browser()
    kb = tmp_path / "kb"
    shutil.copytree(ROOT / "knowledge" / "kb", kb)
    return make_app(settings=replace(settings, kb_dir=kb), understander=FakeNLU(understander))


@pytest.fixture
def browser():
    need_browser()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


def staff_login(browser, base, viewport=DESKTOP):
    ctx = browser.new_context(viewport=viewport, locale="vi-VN")
    page = ctx.new_page()
    page.goto(base + "/admin/")
    assert "/admin/login" in page.url
    page.fill("input[name=username]", "lan")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Đăng nhập')")
    page.wait_for_url(base + "/admin/")
    return page


def resident_page(browser, base, chat="dan-web"):
    ctx = browser.new_context(viewport=PHONE, locale="vi-VN", geolocation={"latitude": 16.0672, "longitude": 108.2215},
                              permissions=["geolocation"], is_mobile=True, has_touch=True)
    page = ctx.new_page()
    page.goto(f"{base}/?chat={chat}")
    page.wait_for_selector(".msg.bot")
    return page


def say(page, text):
    page.fill("#t", text)
    page.click("button.send")


def press(page, label):
    page.locator(".btns button", has_text=label).last.click()


def last_bot(page) -> str:
    return page.locator(".msg.bot").last.inner_text()


def wait_bot(page, pattern, timeout=20000):
    try:
        page.wait_for_function("(re) => [...document.querySelectorAll('.msg.bot')].some(e => new RegExp(re).test(e.textContent))",
                               arg=pattern, timeout=timeout)
    except Exception as e:  # say what the resident saw instead
        raise AssertionError(f"no bot message matching {pattern!r}; the bot said: "
                             f"{page.locator('.msg.bot').all_inner_texts()}") from e


def test_report_end_to_end_in_browsers(app, browser, tmp_path):
    make_account(app)
    with LiveServer(app) as srv:
        res = resident_page(browser, srv.url)
        shot(res, "webchat-phone-start", docs=True)
        say(res, "Rác thải đổ bừa bãi ở đầu kiệt 45 mấy ngày nay")
        wait_bot(res, "Đúng không")
        press(res, "Đúng")
        wait_bot(res, "gửi ảnh chụp hiện trường")
        res.set_input_files("#photo", str(jpeg(tmp_path / "rac.jpg")))
        wait_bot(res, "Đã nhận 1 ảnh")
        # the location, with the page's own consent step before the browser's permission
        res.click("#loc")
        assert res.is_visible("#consent")
        shot(res, "webchat-phone-consent", docs=True)
        res.click("#loc-yes")
        wait_bot(res, "tổ dân phố nào")
        press(res, "Tổ dân phố 2")
        wait_bot(res, "gọi lại")
        press(res, "Chỉ báo qua chat")
        wait_bot(res, "công khai")
        press(res, "Không công khai")
        wait_bot(res, "kiểm tra lại phản ánh")
        assert "vị trí đã chia sẻ (16.0672" in last_bot(res)
        press(res, "Gửi phản ánh")
        wait_bot(res, r"PA-\d{4}-\d{6}")
        code = re.search(r"PA-\d{4}-\d{6}", res.locator(".msg.bot").all_inner_texts()[-1] + " ".join(
            res.locator(".msg.bot").all_inner_texts())).group(0)
        shot(res, "webchat-phone-report", docs=True)

        staff = staff_login(browser, srv.url)
        shot(staff, "admin-desktop-dashboard", docs=True)
        staff.goto(srv.url + "/admin/reports")
        staff.wait_for_selector(".leaflet-interactive")  # the report's marker over the ward's outline
        assert staff.locator(f"text={code}").count() == 1
        shot(staff, "admin-desktop-reports", docs=True)
        staff.click(f"text={code}")
        staff.wait_for_selector("img[alt='Ảnh 1']")
        assert staff.evaluate("document.querySelector(\"img[alt='Ảnh 1']\").naturalWidth") == 640
        staff.click("button:has-text('Tiếp nhận')")
        staff.wait_for_selector("text=Đã tiếp nhận")
        wait_bot(res, "đang xử lý")  # appears in the resident's chat without a reload
        staff.click("summary:has-text('Đã xử lý xong')")
        staff.fill("form:has(input[value=resolve]) textarea[name=note]", "Đã thu gom sạch rác, nhắc các hộ đổ đúng giờ.")
        staff.set_input_files("form:has(input[value=resolve]) input[name=photo]", str(jpeg(tmp_path / "sau.jpg")))
        staff.click("button:has-text('Xác nhận đã xử lý')")
        staff.wait_for_selector("text=xử lý xong; người dân đã được báo")
        shot(staff, "admin-desktop-report", docs=True)
        wait_bot(res, "Đã thu gom sạch rác")
        res.locator(".btns button", has_text="★★★★★").last.wait_for()
        shot(res, "webchat-phone-outcome", docs=True)

        # the back office on a phone
        phone = staff_login(browser, srv.url, viewport=PHONE)
        phone.goto(srv.url + "/admin/reports")
        phone.wait_for_selector(".leaflet-interactive", state="attached")
        shot(phone, "admin-phone-reports", docs=True)
        phone.click("button.menu")
        assert phone.is_visible("nav >> text=Kho tri thức")
        shot(phone, "admin-phone-menu", docs=True)


def test_kb_edit_then_resident_gets_new_answer(app, browser, understander):
    make_account(app)
    # an entry the understander answers straight from its own first question, which asks for no
    # particular section (fee, where...), so the reply is the `short` edited below
    entry = app.kb.by_id["an-sinh.tro-cap-xa-hoi"]
    u = understander.understand(entry.questions[0])
    assert u.kind == "faq" and u.topic == entry.id and not u.ambiguous
    with LiveServer(app) as srv:
        staff = staff_login(browser, srv.url)
        staff.goto(srv.url + "/admin/kb")
        shot(staff, "admin-desktop-kb", docs=True)
        staff.goto(f"{srv.url}/admin/kb/{entry.id}")
        body = staff.locator("#body")
        body.fill("Bạn đến {centre_address} mang theo căn cước. Câu trả lời mới sửa trên bàn làm việc.")
        staff.click("button:has-text('Kiểm tra và xem trước')")
        staff.wait_for_selector("#preview")
        assert app.profile.centre.address in staff.inner_text("#preview")
        staff.click("button:has-text('Lưu')")
        staff.wait_for_selector("text=Đã lưu")
        shot(staff, "admin-desktop-kb-edit", docs=True)
        res = resident_page(browser, srv.url, chat="dan-kb")
        say(res, entry.questions[0])
        wait_bot(res, "Câu trả lời mới sửa trên bàn làm việc")
        assert app.profile.centre.address in res.locator(".msg.bot").last.inner_text() or \
            any(app.profile.centre.address in t for t in res.locator(".msg.bot").all_inner_texts())
        shot(res, "webchat-phone-new-answer")


def test_create_class_and_other_pages(app, browser):
    make_account(app)
    from tests.test_admin_classes_teams import _subscriber
    _subscriber(app)
    with LiveServer(app) as srv:
        staff = staff_login(browser, srv.url)
        staff.goto(srv.url + "/admin/classes")
        staff.select_option("select[name=topic]", "dvc")
        staff.fill("input[name=date]", "2026-11-29")
        staff.fill("input[name=time]", "08:00")
        staff.select_option("select[name=host]", "tdp-01")
        staff.fill("input[name=capacity]", "25")
        shot(staff, "admin-desktop-classes", docs=True)
        staff.click("button:has-text('Tạo bản nháp')")
        staff.wait_for_selector("text=Đã tạo bản nháp")
        assert "Dịch vụ công trực tuyến" in staff.inner_text(".preview")
        staff.click("button:has-text('Gửi thông báo')")
        staff.wait_for_selector("text=Đã gửi thông báo tới 1 người")
        shot(staff, "admin-desktop-class", docs=True)
        for path, name in (("/admin/unanswered", "unanswered"), ("/admin/teams", "teams"), ("/admin/audit", "audit"),
                           ("/admin/accounts", "accounts"), ("/admin/", "dashboard")):
            staff.goto(srv.url + path)
            assert staff.locator("h1").count() == 1
            shot(staff, f"admin-desktop-{name}", docs=True)
        phone = staff_login(browser, srv.url, viewport=PHONE)
        for path, name in (("/admin/", "dashboard"), ("/admin/unanswered", "unanswered"), ("/admin/kb", "kb"),
                           ("/admin/classes", "classes"), ("/admin/teams", "teams"), ("/admin/audit", "audit")):
            phone.goto(srv.url + path)
            # nothing wider than the phone's screen except scrollable tables
            assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1, path
            shot(phone, f"admin-phone-{name}", docs=True)
        login = browser.new_page(viewport=PHONE)
        login.goto(srv.url + "/admin/login")
        shot(login, "admin-phone-login", docs=True)
