"""Messages of scoring: protocols, examples that cannot be scored, and templates a model's family cannot serve."""

_MASK = "{{{{ mask }}}}"

MESSAGES: dict[str, tuple[str, str]] = {
    "template.cannot_be_scored": ("{name}: {problem}", "{name}：{problem}"),
    "model.masked_needs_choices": ("Model {model} is a masked LM ({example}-style): it fills a mask slot but cannot "
                                   "generate text. Give the template answer choices (label words) and a " + _MASK +
                                   " slot in the prompt, or pick a decoder-only or encoder-decoder model for "
                                   "generation.",
                                   "模型 {model} 是掩码语言模型（{example} 类）：它能填充掩码位置，但不能生成文本。请给"
                                   "模板加上候选答案（标签词），并在提示中放一个 " + _MASK + " 位置，或选择仅解码器、编码器-"
                                   "解码器模型来生成。"),
    "model.masked_needs_slot": ("Model {model} is a masked LM: it scores the answer at a mask slot, and this template "
                                "has none. Put " + _MASK + " where the label word goes, e.g. '{{{{ sentence }}}} It was "
                                + _MASK + ".', or pick a decoder-only or encoder-decoder model.",
                                "模型 {model} 是掩码语言模型：它在掩码位置为答案打分，而这个模板没有掩码位置。请在标签词的"
                                "位置放 " + _MASK + "，例如 '{{{{ sentence }}}} It was " + _MASK + ".'，或选择仅解码器、"
                                "编码器-解码器模型。"),
    "model.cloze_needs_masked": ("This is a cloze template (its prompt has " + _MASK + "), which needs a masked LM such "
                                 "as bert-base-uncased; Model {model} is {family}. Pick a masked LM, or write the prompt "
                                 "so that the answer follows it (no " + _MASK + ").",
                                 "这是完形填空模板（提示中有 " + _MASK + "），需要 bert-base-uncased 这样的掩码语言模型；"
                                 "模型 {model} 是{family}。请选择掩码语言模型，或改写提示，让答案跟在提示之后（不用 "
                                 + _MASK + "）。"),
    "scoring.negative_shots": ("shots must be 0 or more, got {shots}.", "示例数必须大于等于 0，实际为 {shots}。"),
    "scoring.no_seeds": ("seeds must be 1 or more, got {seeds}.", "种子数必须大于等于 1，实际为 {seeds}。"),
    "scoring.no_rows": ("Nothing to score: the data has no rows. Pick a split with rows or raise the row limit.",
                        "没有可评分的内容：数据没有行。请选择有数据的划分，或提高行数上限。"),
    "scoring.mixed_choices": ("Some rows have answer choices and some have none; the answer-choice expression must "
                              "give choices for every row.",
                              "有些行有候选答案，有些行没有；候选答案表达式必须为每一行给出候选答案。"),
    "scoring.gold_not_a_choice": ('Row {row}: the target {target} is not one of the answer choices ({choices}), so it '
                                  'cannot be scored. Make the target render one of the choices, e.g. map label names '
                                  'with {{{{ {{"negative": "bad", "positive": "good"}}[label] }}}}.',
                                  '第 {row} 行：目标 {target} 不在候选答案中（{choices}），因此无法评分。请让目标渲染出某个'
                                  '候选答案，例如用 {{{{ {{"negative": "bad", "positive": "good"}}[label] }}}} 映射标签名。'),
}
