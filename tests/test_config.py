"""The text grammar, dict configs, files, and the errors they raise."""

from __future__ import annotations

import json

import pytest

import lrkit as lk
from lrkit import ConfigError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("warmup(500) >> cosine(10000, floor=0.01)", lk.warmup(500) >> lk.cosine(10_000, floor=0.01)),
        ("warmup(500) >> cosine(10_000, floor=1e-2)", lk.warmup(500) >> lk.cosine(10_000, floor=0.01)),
        ("cosine(100) * 3e-4", lk.cosine(100) * 3e-4),
        ("3e-4 * cosine(100)", lk.cosine(100) * 3e-4),
        ("2 * 0.5 * cosine(100)", lk.cosine(100) * 1.0),
        ("(warmup(5) >> cosine(10)) * 0.1", lk.scale(lk.warmup(5) >> lk.cosine(10), 0.1)),
        ("warmup(5) >> cosine(10) * 0.1", lk.warmup(5) >> lk.cosine(10) * 0.1),
        ("constant(0.5) * linear(10)", lk.product(lk.constant(0.5), lk.linear(10))),
        ("multistep([10, 20,], factor=.5)", lk.multistep([10, 20], factor=0.5)),
        ("warmup(10, shape='cos')", lk.warmup(10, shape="cos")),
        ('warmup(10, shape="exp", start=0.01)', lk.warmup(10, shape="exp", start=0.01)),
        ("exponential(0.5, staircase=true)", lk.exponential(0.5, staircase=True)),
        ("exponential(0.5, staircase=True)", lk.exponential(0.5, staircase=True)),
        ("sgdr(10, cycles=None)", lk.sgdr(10)),
        ("repeat(linear(4), times=2)", lk.repeat(lk.linear(4), times=2)),
        ("shift(linear(10), -5)", lk.shift(lk.linear(10), -5)),
        ("one_cycle(1000, three_phase=True)", lk.one_cycle(1000, three_phase=True)),
        ("  cosine( 10 )  ", lk.cosine(10)),
    ],
)
def test_text_form_means_what_it_says(text, expected):
    assert lk.from_config(text) == expected


def test_the_examples_in_the_issues_parse():
    s = lk.from_config("warmup(500) >> cosine(10000)")
    assert s.length == 10_500 and s(500) == 1.0 and s(10_500) == 0.0
    s = lk.from_config("warmup(500) >> cosine(10000, floor=0.1)")
    assert s(10_500) == 0.1


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("cosin(100)", "unknown schedule 'cosin'; did you mean 'cosine'?", 0),
        ("warmup(5) >> cosin(100)", "known names: ", 13),
        ("cosine(100", "expected ')' to close cosine(", 10),
        ("cosine(100))", "unexpected ')'", 11),
        ("cosine(100) >> 3", "'>>' joins schedules, got 3", 15),
        ("cosine(-3)", "cosine: steps must be > 0, got -3", 0),
        ("cosine(100, flor=0.1)", "unexpected keyword argument 'flor'", 0),
        ("cosine(100, floor=0.1, floor=0.2)", "floor is given twice", 23),
        ("cosine(floor=0.1, 100)", "positional argument cannot follow keyword", 18),
        ("cosine(1__0)", "malformed number", 7),
        ("cosine(100) ; rm", "unexpected character ';'", 12),
        ("__import__('os').system('true')", "unexpected character '.'", 16),
        ("__import__('os')", "unknown schedule '__import__'", 0),
        ("cosine", "'cosine' needs arguments", 0),
        ("", "expected a number, a name or '('", 0),
        ("3", "the text must describe a schedule", 0),
        ("'cos' * cosine(10)", "'*' multiplies numbers and schedules", 0),
        ("cosine(10, floor=2)", "floor must be <= peak", 0),
    ],
)
def test_errors_name_the_problem_and_position(text, message, position):
    with pytest.raises(ConfigError) as info:
        lk.from_config(text)
    assert message in str(info.value)
    assert info.value.position == position
    if text:
        assert "^" in str(info.value)  # the caret under the position


def test_unknown_names_list_every_known_name():
    with pytest.raises(ConfigError) as info:
        lk.from_config("nope(1)")
    for name in lk.known_names():
        assert name in str(info.value)


def test_dict_configs_round_trip_through_json_and_report_errors():
    s = lk.warmup(10) >> lk.cosine(100, floor=0.1) * 0.5
    config = json.loads(json.dumps(s.to_config()))
    assert config["type"] == "join" and config["pieces"][0] == {"type": "warmup", "steps": 10}
    assert lk.from_config(config) == s
    with pytest.raises(ConfigError, match="needs a 'type' key"):
        lk.from_config({"steps": 3})
    with pytest.raises(ConfigError, match=r"config\.pieces\[1\]: unknown schedule 'cosin'"):
        lk.from_config({"type": "join", "pieces": [{"type": "warmup", "steps": 1}, {"type": "cosin", "steps": 2}]})
    with pytest.raises(ConfigError, match="steps must be > 0"):
        lk.from_config({"type": "cosine", "steps": 0})
    with pytest.raises(ConfigError, match="text or a dict"):
        lk.from_config(3)  # type: ignore[arg-type]


def test_files(tmp_path):
    s = lk.one_cycle(100)
    (tmp_path / "s.json").write_text(json.dumps(s.to_config()))
    (tmp_path / "s.txt").write_text(repr(s) + "\n")
    yaml = pytest.importorskip("yaml")
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(s.to_config()))
    for name in ("s.json", "s.txt", "s.yaml"):
        assert lk.load(tmp_path / name) == s
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        lk.load(tmp_path / "bad.json")


def test_the_parser_never_evaluates_python():
    import inspect

    import lrkit.config

    source = inspect.getsource(lrkit.config)
    for forbidden in ("eval(", "exec(", "literal_eval", "__import__"):
        assert forbidden not in source.replace("_eval(", "")
