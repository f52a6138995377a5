"""The Rasa NLU YAML loader: intents, entity annotations, extra files."""
import pytest

from nlu import rasa

DOC = '''
version: "3.1"
nlu:
- intent: greet
  examples: |
    - xin chào
    - chào [anh Nam](person) nhé
- intent: complaint/rac-thai
  examples: |
    - rác ở [kiệt 45]{"entity": "place"} chưa thu
    - rác đầy [tổ 3][{"entity": "group"}]
- synonym: căn cước
  examples: |
    - cccd
    - căn cước công dân
- lookup: streets
  examples: |
    - Nguyễn Văn Linh
- regex: phone
  examples: |
    - \\d{10}
'''


def test_parse_intents_and_strip_annotations():
    d = rasa.parse(DOC)
    assert d.examples["greet"] == ["xin chào", "chào anh Nam nhé"]
    assert d.examples["complaint/rac-thai"] == ["rác ở kiệt 45 chưa thu", "rác đầy tổ 3"]
    assert d.synonyms["căn cước"] == ["cccd", "căn cước công dân"]
    assert "streets" not in d.examples and "phone" not in d.examples


def test_examples_as_a_list_and_duplicates_dropped():
    d = rasa.parse("nlu:\n- intent: thanks\n  examples:\n  - cảm ơn\n  - cảm ơn\n  - text: thanks\n")
    assert d.examples["thanks"] == ["cảm ơn", "thanks"]


def test_every_yml_file_in_the_directory_is_loaded(tmp_path):
    (tmp_path / "a.yml").write_text("nlu:\n- intent: greet\n  examples: |\n    - hi\n", encoding="utf-8")
    (tmp_path / "b.yml").write_text("nlu:\n- intent: greet\n  examples: |\n    - alo\n"
                                    "- intent: out_of_scope\n  examples: |\n    - thời tiết\n", encoding="utf-8")
    d = rasa.load_dir(tmp_path)
    assert d.examples == {"greet": ["hi", "alo"], "out_of_scope": ["thời tiết"]}


def test_bad_files_name_the_file():
    with pytest.raises(rasa.RasaFormatError, match="x.yml"):
        rasa.parse("nlu: [1, 2]", "x.yml")
    with pytest.raises(rasa.RasaFormatError, match="y.yml"):
        rasa.parse("nlu:\n- intent: a\n  examples: |\n    - a\n   bad: [", "y.yml")


def test_shipped_training_data_has_every_category_and_smalltalk():
    from knowledge.categories import load_categories
    d = rasa.load_dir()
    for cid in load_categories():
        assert len(d.examples[f"complaint/{cid}"]) >= 10, cid
    for intent in ("greet", "thanks", "goodbye", "bot_identity", "affirm", "deny", "out_of_scope"):
        assert d.examples[intent], intent
