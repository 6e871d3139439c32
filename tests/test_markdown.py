from speechdistill.markdown import replace_section

S, E = "<!-- x:start -->", "<!-- x:end -->"


def test_replaces_only_the_marked_part():
    text = f"# T\n\nkeep me\n{S}\nold\n{E}\ntail $1 \\1\n"
    out = replace_section(text, S, E, f"{S}\nnew \\1 $1\n{E}")
    assert out == f"# T\n\nkeep me\n{S}\nnew \\1 $1\n{E}\ntail $1 \\1\n"


def test_appends_when_there_is_no_section():
    assert replace_section("# T\n\n", S, E, f"{S}\nnew\n{E}") == f"# T\n\n{S}\nnew\n{E}\n"
