"""Normalisation: how residents type must meet how the knowledge base is written."""
import pytest

from nlu.normalize import fold, normalize, normalize_tones


@pytest.mark.parametrize("a,b", [
    ("hoà", "hòa"), ("thuỷ", "thủy"), ("khoẻ", "khỏe"), ("Uỷ ban", "ủy ban"), ("quý", "quý"),
    ("giấy", "giấy"), ("nguyễn", "nguyễn"), ("hoá đơn", "hóa đơn"),
])
def test_both_tone_placements_become_one(a, b):
    assert normalize(a) == normalize(b)


def test_nfc_and_nfd_input_are_the_same():
    import unicodedata
    s = "Đăng ký khai sinh"
    assert normalize(unicodedata.normalize("NFD", s)) == normalize(s) == "đăng ký khai sinh"


def test_fold_is_diacritic_insensitive():
    assert fold(normalize("Đăng KÝ kết hôn")) == fold(normalize("dang ky ket hon")) == "dang ky ket hon"


@pytest.mark.parametrize("raw,expected", [
    ("mat cccd thi lam sao", "mat căn cước công dân thi lam sao"),
    ("đky kết hôn cần gì", "đăng ký kết hôn cần gì"),
    ("lam gks ko dc a", "lam giấy khai sinh không được a"),
    ("sđt tdp 5", "số điện thoại tổ dân phố 5"),
    ("nop ho so dvc", "nop ho so dịch vụ công"),
    ("cmnd cũ", "chứng minh nhân dân cũ"),
    ("dkkd ho ca the", "đăng ký kinh doanh ho ca the"),
    ("xin lltp o dau", "xin lý lịch tư pháp o dau"),
    ("cks cho ho kd", "chữ ký số cho ho kinh doanh"),
    ("đổi gplx", "đổi giấy phép lái xe"),
])
def test_abbreviations_and_teencode(raw, expected):
    assert normalize(raw) == expected


def test_words_with_tone_marks_are_not_teencode():
    # "hỏng" (broken) folds to "hong", a southern spelling of "không": keep the resident's word.
    assert normalize("đèn đường hỏng") == "đèn đường hỏng"
    assert "không" not in normalize("đèn hỏng")


def test_money_k_is_not_khong():
    assert normalize("phí 50k") == "phí 50 nghìn"


def test_tone_fix_leaves_plain_words():
    assert normalize_tones("khai sinh") == "khai sinh"
    assert normalize("  Xin   CHÀO!! ") == "xin chào"
