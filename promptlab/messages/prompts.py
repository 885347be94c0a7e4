"""Messages of templates: their problems and hints, the sandbox's limits, template files, the library, column
mapping and PromptSource imports. Texts are `str.format` strings: a literal brace is doubled ("{{{{ text }}}}" reads
"{{ text }}")."""

MESSAGES: dict[str, tuple[str, str]] = {
    # ---- one problem: "field, line 1, column 4: message hint" ----
    "problem": ("{field}{where}: {message} {hint}", "{field}{where}：{message}{hint}"),
    "problem.no_hint": ("{field}{where}: {message}", "{field}{where}：{message}"),
    "problem.at_line_column": (", line {line}, column {column}", "（第 {line} 行第 {column} 列）"),
    "problem.at_line": (", line {line}", "（第 {line} 行）"),
    "problem.at_column": (", column {column}", "（第 {column} 列）"),
    "field.name": ("name", "名称"),
    "field.instruction": ("instruction", "指令"),
    "field.prompt": ("prompt", "提示"),
    "field.target": ("target", "目标"),
    "field.answer_choices": ("answer_choices", "候选答案"),
    "field.target_delimiter": ("target_delimiter", "目标分隔符"),
    "field.fewshot_delimiter": ("fewshot_delimiter", "示例分隔符"),
    "field.description": ("description", "描述"),
    "field.reference": ("reference", "参考来源"),
    "field.class_labels": ("class_labels", "类别标签"),
    "field.language": ("language", "语言"),
    "field.task": ("task", "任务"),
    "list.and_more": ("{listed} and {n} more", "{listed} 等（另有 {n} 个）"),
    "list.sentences": ("{first} {then}", "{first}{then}"),
    "rows.one": ("row {shown}", "第 {shown} 行"),
    "rows.some": ("rows {shown}", "第 {shown} 行"),
    "rows.more": ("rows {shown} and {n} more", "第 {shown} 行等（另有 {n} 行）"),
    # ---- template problems ----
    "template.on_rows": ("{message} ({rows})", "{message}（{rows}）"),
    "template.not_allowed": ("That expression is not allowed in templates ({detail}).",
                             "模板中不允许使用该表达式（{detail}）。"),
    "hint.not_allowed": ("Use the row's columns, filters such as upper, and plain expressions.",
                         "请使用数据行的列、upper 等过滤器和普通表达式。"),
    "hint.budget": ("Use fewer rows, shots or seeds, or a simpler template.",
                    "请减少行数、示例数或种子数，或使用更简单的模板。"),
    "hint.smaller": ("Make the template smaller.", "请缩小模板。"),
    "template.recursion": ("A macro or recursive loop calls itself too deeply.", "宏或递归循环调用自身的层数过深。"),
    "hint.recursion": ("Give the recursion a condition that ends it.", "请为递归设置结束条件。"),
    "template.render_failed": ("Rendering failed: {error}: {detail}.", "渲染失败：{error}: {detail}。"),
    "hint.render_failed": ("Check the expressions in this field against the row's values.",
                           "请对照数据行的取值检查该字段中的表达式。"),
    "template.chars_long": ("{n:,} characters long", "长 {n:,} 个字符"),
    "template.items_over": ("over {limit:,} characters and items in size", "超过 {limit:,} 个字符和元素"),
    "template.long_cell": ("Column '{name}' of this row is {length}; a rendered field may hold at most {limit:,} "
                           "characters.", "该行的列 '{name}' {length}；渲染后的字段最多 {limit:,} 个字符。"),
    "hint.long_cell": ("Leave such rows out or shorten them, or cut the cell in the template, e.g. {cut}.",
                       "请去掉或缩短这样的行，或在模板中截断该单元格，例如 {cut}。"),
    "template.hidden_function": ("The data's column '{name}' hides the Jinja function {name}(), so {name}(...) calls "
                                 "the column's value instead.",
                                 "数据的列 '{name}' 遮住了 Jinja 函数 {name}()，因此 {name}(...) 调用的是该列的值。"),
    "hint.hidden_function": ("Rename the column (e.g. to '{name}_value'), or write this field without {name}().",
                             "请重命名该列（例如改为 '{name}_value'），或在该字段中不使用 {name}()。"),
    "template.no_such_column": ("{field_name} uses {{{{ {name} }}}}, but the row has no column '{name}'.",
                                "{field_name}使用了 {{{{ {name} }}}}，但数据行没有列 '{name}'。"),
    "hint.columns": ("Columns: {columns}.", "可用的列：{columns}。"),
    "template.undefined": ("{detail}.", "未定义的值：{detail}。"),
    "hint.list_index": ("A list is indexed by position: answer_choices[label] needs an integer label (PromptSource "
                        "style). With label names, list them in class order under class_labels (e.g. label: negative "
                        "||| positive), or use {{{{ label }}}} or a mapping.",
                        "列表按位置取值：answer_choices[label] 需要整数标签（PromptSource 的写法）。如果标签是名称，请在"
                        "类别标签中按类别顺序列出它们（例如 label: negative ||| positive），或使用 {{{{ label }}}} 或映射。"),
    "hint.mapping_key": ('A mapping such as {{"positive": "great"}}[label] needs a key for every value in the data.',
                         '像 {{"positive": "great"}}[label] 这样的映射需要为数据中的每个取值提供键。'),
    "template.syntax": ("Jinja syntax error: {detail}.", "Jinja 语法错误：{detail}。"),
    "hint.syntax": ("Check that every {{{{ has a matching }}}}, every {{% has %}}, and every if/for has its end tag.",
                    "请检查每个 {{{{ 都有对应的 }}}}，每个 {{% 都有 %}}，每个 if/for 都有结束标签。"),
    "template.empty_choice": ("Choice {i} is empty.", "第 {i} 个候选答案为空。"),
    "template.empty_choice_rendered": ("Choice {i} is empty in the rendered choices {rendered}.",
                                       "渲染出的候选答案 {rendered} 中第 {i} 个为空。"),
    "hint.empty_choice": ("Give it a word or remove it.", "请填写一个词，或删除它。"),
    "template.double_choice": ("Choice '{choice}' appears more than once.", "候选答案 '{choice}' 出现了不止一次。"),
    "template.double_choice_rendered": ("Choice '{choice}' appears more than once in the rendered choices {rendered}.",
                                        "渲染出的候选答案 {rendered} 中 '{choice}' 出现了不止一次。"),
    "hint.double_choice": ("Make every choice different, or the model cannot tell them apart.",
                           "请让每个候选答案互不相同，否则模型无法区分它们。"),
    "template.choices_empty": ("The answer-choice expression rendered nothing.", "候选答案表达式没有渲染出任何内容。"),
    "hint.choices_empty": ("It must render choices separated by {separator}, e.g. no ||| yes.",
                           "它必须渲染出用 {separator} 分隔的候选答案，例如 no ||| yes。"),
    "template.demo_renders_nothing": ("The template renders nothing for a demonstration row: it applies to some rows "
                                      "only (an {{% if %}} around it, as in PromptSource's fine-grained templates).",
                                      "模板对一个示例行没有渲染出任何内容：它只适用于部分行（外面有 {{% if %}}，"
                                      "如 PromptSource 的细粒度模板）。"),
    "hint.zero_shots": ("Use zero shots with this template.", "请对该模板使用零样本。"),
    "template.demo_no_target": ("A demonstration has no target (its label is missing or the template has no "
                                "target).", "有一个示例没有目标（它缺少标签，或模板没有目标）。"),
    "hint.demo_no_target": ("Use labelled rows as demonstrations, or use zero shots.",
                            "请用有标签的行作为示例，或使用零样本。"),
    "template.prompt_too_long": ("The rendered prompt is {length:,} characters long; the limit is {limit:,}.",
                                 "渲染后的提示长 {length:,} 个字符；上限为 {limit:,}。"),
    "hint.fewer_demonstrations": ("Use fewer or shorter demonstrations.", "请使用更少或更短的示例。"),
    "template.calibration_needs_fixed_choices": (
        "{name}: content-free calibration needs fixed answer choices, but answer_choices depends on the row. Hint: "
        "list the choices, e.g. [negative, positive].",
        "{name}：无内容校准需要固定的候选答案，但候选答案取决于数据行。提示：请直接列出候选答案，例如 "
        "[negative, positive]。"),
    "template.prompt_empty": ("The prompt is empty.", "提示为空。"),
    "hint.prompt_empty": ("Write the text the model reads, with placeholders for columns such as {{{{ text }}}}.",
                          "请写出模型读取的文本，并用 {{{{ text }}}} 这样的占位符引用列。"),
    "template.more_unknown": ("{n} more unknown columns.", "另有 {n} 个未知列。"),
    "hint.use_one_of": ("Use one of: {columns}.", "请使用以下列之一：{columns}。"),
    "hint.did_you_mean_use_one_of": ("Did you mean '{guess}'? Use one of: {columns}.",
                                     "您是想用 '{guess}' 吗？请使用以下列之一：{columns}。"),
    "template.unknown_column": ("Unknown column '{name}'.", "未知列 '{name}'。"),
    "template.no_target": ("The template has answer choices but no target, so the gold choice is unknown.",
                           "模板有候选答案但没有目标，因此不知道哪个是标准答案。"),
    "hint.no_target": ("Set the target to the gold choice, e.g. {{{{ label }}}}.",
                       "请把目标设为标准答案，例如 {{{{ label }}}}。"),
    "template.mask_outside_prompt": ("{{{{ mask }}}} is the answer slot of a cloze prompt; the {field_name} cannot "
                                     "have one.", "{{{{ mask }}}} 是完形填空提示的答案位置；{field_name}中不能有它。"),
    "hint.mask_outside_prompt": ("Move {{{{ mask }}}} into the prompt, where the answer goes.",
                                 "请把 {{{{ mask }}}} 移到提示中答案所在的位置。"),
    "template.cloze_needs_choices": ("A cloze template ({{{{ mask }}}} in the prompt) needs answer choices: the label "
                                     "words a masked LM scores at the slot.",
                                     "完形填空模板（提示中有 {{{{ mask }}}}）需要候选答案：掩码语言模型在该位置打分的"
                                     "标签词。"),
    "hint.cloze_needs_choices": ("List them, e.g. [terrible, great], and set the target to the gold one.",
                                 "请列出它们，例如 [terrible, great]，并把目标设为标准答案。"),
    "template.field_too_long": ("This field is {length:,} characters long; a template field may have at most "
                                "{limit:,}.", "该字段长 {length:,} 个字符；模板字段最多 {limit:,} 个字符。"),
    "hint.shorten": ("Shorten it.", "请缩短它。"),
    "hint.shorten_field": ("Shorten it: the data fills in the rest of the prompt.",
                           "请缩短它：提示的其余部分由数据填充。"),
    "template.too_deep": ("Expressions or blocks are nested more than {limit} levels deep.",
                          "表达式或代码块的嵌套超过 {limit} 层。"),
    "hint.too_deep": ("Split the expression into steps with {{% set name = ... %}}, or nest fewer blocks.",
                      "请用 {{% set name = ... %}} 把表达式拆成几步，或减少代码块的嵌套。"),
    "template.too_deep_to_compile": ("Blocks are nested too deeply to compile ({detail}).",
                                     "代码块嵌套过深，无法编译（{detail}）。"),
    "hint.fewer_loops": ("Nest fewer {{% for %}} loops (at most 20) and blocks.",
                         "请减少 {{% for %}} 循环（最多 20 层）和代码块的嵌套。"),
    "template.stopped_checking": ("Stopped checking at row {row} of {n}: rendering the rows took over {seconds} s.",
                                  "在第 {row} 行（共 {n} 行）停止检查：渲染这些行用了超过 {seconds} 秒。"),
    "hint.simplify": ("Simplify the template: a prompt should render in a fraction of a millisecond.",
                      "请简化模板：一个提示的渲染应远少于一毫秒。"),
    "template.target_not_a_choice": ("The target '{target}' is not one of the answer choices: {choices}.",
                                     "目标 '{target}' 不在候选答案中：{choices}。"),
    "hint.target_not_a_choice": ('Make the target render one of the choices, e.g. map label names with '
                                 '{{{{ {{"negative": "bad", "positive": "good"}}[label] }}}}.',
                                 '请让目标渲染出某个候选答案，例如用 '
                                 '{{{{ {{"negative": "bad", "positive": "good"}}[label] }}}} 映射标签名。'),
    # PromptSource's conventions (class numbers, "input ||| target")
    "template.not_a_class_label": ("Column '{column}' holds {value}, which is not one of the template's class labels "
                                   "for it ({names}).", "列 '{column}' 的值 {value} 不在模板为该列定义的类别标签中"
                                   "（{names}）。"),
    "hint.class_order": ("List the data's label names in class order (the first is class 0), e.g. label: negative "
                         "||| positive.", "请按类别顺序列出数据的标签名（第一个是类别 0），例如 label: negative ||| "
                         "positive。"),
    "template.pipes_rendered": ("The prompt rendered '|||' {n} times; it separates the input from the target once.",
                                "提示渲染出了 {n} 次 '|||'；它只应出现一次，用来分隔输入和目标。"),
    "hint.one_pipe": ("Keep one '|||' between the input and the target.", "请在输入和目标之间只保留一个 '|||'。"),
    "template.split_target_not_a_choice": ("The target '{target}' (after '|||') is not one of the answer choices: "
                                           "{choices}.", "目标 '{target}'（'|||' 之后）不在候选答案中：{choices}。"),
    "hint.split_target": ("Make the part after '|||' render one of the choices.",
                          "请让 '|||' 之后的部分渲染出某个候选答案。"),
    "template.pipes_and_target": ("The prompt has '|||' (PromptSource form: input ||| target) and the target field "
                                  "is set too.", "提示中有 '|||'（PromptSource 写法：输入 ||| 目标），同时目标字段也已填写。"),
    "hint.pipes_and_target": ("Remove '|||' and what follows it from the prompt, or empty the target field.",
                              "请从提示中删除 '|||' 及其后的内容，或清空目标字段。"),
    "template.pipes_many": ("The prompt has '|||' {n} times; it separates the input from the target once.",
                            "提示中有 {n} 个 '|||'；它只应出现一次，用来分隔输入和目标。"),
    "template.class_label_empty": ("The class labels of column '{column}' include an empty name.",
                                   "列 '{column}' 的类别标签中有空名称。"),
    "hint.every_label": ("List every label name, in class order.", "请按类别顺序列出每个标签名。"),
    "template.class_label_double": ("Class label '{label}' of column '{column}' appears more than once.",
                                    "列 '{column}' 的类别标签 '{label}' 出现了不止一次。"),
    "hint.label_once": ("Each name is one class: list it once, in class order.",
                        "每个名称代表一个类别：请按类别顺序只列一次。"),
    # ---- the sandbox's limits ----
    "limit.refused": ("{reason} Templates are limited so that one prompt cannot exhaust the server.",
                      "{reason}模板受到限制，以免一个提示耗尽服务器资源。"),
    "limit.steps": ("The template runs more than {limit:,} loop steps or calls.",
                    "模板执行了超过 {limit:,} 次循环或调用。"),
    "limit.written": ("The template writes more than {limit:,} characters.", "模板输出了超过 {limit:,} 个字符。"),
    "limit.built": ("The template builds more than {limit:,} characters or items in all.",
                    "模板总共构建了超过 {limit:,} 个字符或元素。"),
    "limit.seconds": ("The template takes more than {seconds} s to render (loops over slow filters such as sort on "
                      "long lists?).", "模板渲染用时超过 {seconds} 秒（是否在长列表上循环使用 sort 等较慢的过滤器？）。"),
    "limit.request_seconds": ("Rendering took more than {seconds} s in total for this request.",
                              "本次请求的渲染总用时超过 {seconds} 秒。"),
    "limit.value": ("The template built a value of over {limit:,} characters or items.",
                    "模板构建了一个超过 {limit:,} 个字符或元素的值。"),
    "limit.format_width": ("The format string {format} asks for a width over {limit:,}.",
                           "格式字符串 {format} 要求的宽度超过 {limit:,}。"),
    "limit.format_widths": ("The format string {format} asks for widths adding up to over {limit:,} characters.",
                            "格式字符串 {format} 要求的宽度合计超过 {limit:,} 个字符。"),
    "limit.builds_text": ("{function} would build a text over {limit:,} characters.",
                          "{function} 会构建超过 {limit:,} 个字符的文本。"),
    "limit.builds_list": ("{function} would build a list over {limit:,} items.",
                          "{function} 会构建超过 {limit:,} 个元素的列表。"),
    "limit.tojson_indent_type": ("tojson: the indent must be a number or a text.", "tojson：缩进必须是数字或文本。"),
    "limit.tojson_indent": ("tojson(indent={indent}) is too wide; the limit is {limit}.",
                            "tojson(indent={indent}) 太宽；上限为 {limit}。"),
    "limit.argument": ("The number {number:,} is too large for {function}(); the limit is {limit:,}.",
                       "数字 {number:,} 对 {function}() 来说太大；上限为 {limit:,}。"),
    "limit.power": ("{left} ** {right} is too large a number.", "{left} ** {right} 的结果太大。"),
    "limit.product": ("That multiplication makes too large a number.", "该乘法的结果太大。"),
    "limit.copies": ("{n:,} copies of a value of length {length:,} is too long; the limit is {limit:,}.",
                     "长度为 {length:,} 的值重复 {n:,} 次太长；上限为 {limit:,}。"),
    "limit.range": ("range() of {n:,} items is too long; the limit is {limit:,}.",
                    "range() 的 {n:,} 个元素太多；上限为 {limit:,}。"),
    "limit.concat": ("Joining texts with ~ would build over {limit:,} characters.",
                     "用 ~ 连接文本会构建超过 {limit:,} 个字符。"),
    # ---- template files ----
    "where.line_field": ("{source}, line {line}, field '{field}'", "{source} 第 {line} 行，字段 '{field}'"),
    "where.column": ("{where}, column '{column}'", "{where}，列 '{column}'"),
    "where.key": ("{where}: {key}", "{where}: {key}"),
    "noun.template_file": ("template file", "模板文件"),
    "noun.promptsource_file": ("PromptSource file", "PromptSource 文件"),
    "noun.choice": ("choice", "候选答案"),
    "noun.label_name": ("label name", "标签名"),
    "noun.choices_or_text": ("a list of choices or text", "候选答案列表或文本"),
    "noun.text": ("text", "文本"),
    "noun.a_list": ("a list", "列表"),
    "noun.a_mapping": ("a mapping", "映射"),
    "file.too_long": ("{source}: the file is {length:,} characters long; a template file may have at most {limit:,}. "
                      "Shorten its fields.", "{source}：文件长 {length:,} 个字符；模板文件最多 {limit:,} 个字符。"
                      "请缩短其中的字段。"),
    "file.empty": ("an empty file", "空文件"),
    "file.not_a_mapping": ("{source}: a template file must be a YAML mapping with keys such as name: and prompt:, not "
                           "{found}.", "{source}：模板文件必须是带有 name:、prompt: 等键的 YAML 映射，而不是 {found}。"),
    "file.did_you_mean": (" Did you mean '{name}'?", "您是想用 '{name}' 吗？"),
    "file.unknown_key": ("{source}, line {line}: unknown key {key}.{guess} Allowed keys: {keys}.",
                         "{source} 第 {line} 行：未知的键 {key}。{guess}允许的键：{keys}。"),
    "file.missing_key": ("{source}: missing required key '{key}:'.", "{source}：缺少必需的键 '{key}:'。"),
    "file.invalid_yaml": ("{source}{where}: invalid YAML: {detail}. Fix: check the indentation, and quote values that "
                          "start with '{{' or contain ': ' (or use a | block).",
                          "{source}{where}：无效的 YAML：{detail}。修正方法：检查缩进，并给以 '{{' 开头或包含 ': ' 的值"
                          "加引号（或使用 | 块）。"),
    "file.too_deep": ("{source}: the YAML nests lists or mappings too deeply to read. A template file needs only "
                      "key: value lines (and a list of answer choices).",
                      "{source}：YAML 中列表或映射的嵌套过深，无法读取。模板文件只需要 键: 值 这样的行（以及一个候选答案"
                      "列表）。"),
    "file.not_a_bool": ("{where}: must be true or false, not {value}.", "{where}：必须是 true 或 false，而不是 {value}。"),
    "file.mapping_not_text": ("{where}: must be text, but YAML read a mapping. Fix: quote a value that starts with "
                              "'{{', e.g. {key}: \"{{{{ label }}}}\".",
                              "{where}：必须是文本，但 YAML 读到的是映射。修正方法：给以 '{{' 开头的值加引号，例如 "
                              "{key}: \"{{{{ label }}}}\"。"),
    "file.not_text": ("{where}: must be {what}, not {value}. Fix: quote it, e.g. {key}: \"{value}\".",
                      "{where}：必须是{what}，而不是 {value}。修正方法：加上引号，例如 {key}: \"{value}\"。"),
    "file.empty_name": ("{where}: the name is empty.", "{where}：名称为空。"),
    "file.field_too_long": ("{where}: {length:,} characters is too long; a template field may have at most {limit:,}.",
                            "{where}：{length:,} 个字符太长；模板字段最多 {limit:,} 个字符。"),
    "file.choice_not_text": ("{where}: {what} {index} is {value}, not text (YAML reads yes/no/on/off/true/false as "
                             "booleans). Fix: quote it, e.g. [\"yes\", \"no\"].",
                             "{where}：第 {index} 个{what}是 {value}，不是文本（YAML 会把 yes/no/on/off/true/false 读成"
                             "布尔值）。修正方法：加上引号，例如 [\"yes\", \"no\"]。"),
    "file.class_labels_not_a_mapping": ("{where}: must map each column to its label names in class order, e.g. "
                                        "class_labels: {{label: [negative, positive]}}, not {value}.",
                                        "{where}：必须把每一列映射到按类别顺序排列的标签名，例如 class_labels: "
                                        "{{label: [negative, positive]}}，而不是 {value}。"),
    "file.class_labels_entry": ("{where}: {column} must be a column name with a list of label names, e.g. "
                                "class_labels: {{label: [negative, positive]}}.",
                                "{where}：{column} 必须是列名并带有标签名列表，例如 class_labels: "
                                "{{label: [negative, positive]}}。"),
    "file.cannot_read": ("Cannot read {what} {path}: {detail}.", "无法读取{what} {path}：{detail}。"),
    "file.not_regular": ("Cannot read {what} {path}: it is not a regular file.", "无法读取{what} {path}：它不是普通文件。"),
    "file.not_utf8": ("Cannot read {what} {path}: it is not UTF-8 text (byte {byte}). Save it as UTF-8.",
                      "无法读取{what} {path}：它不是 UTF-8 文本（第 {byte} 个字节）。请另存为 UTF-8。"),
    "file.over_chars": ("{path}: the file is over {limit:,} characters long; a {what} may have at most {limit:,}.",
                        "{path}：文件超过 {limit:,} 个字符；{what}最多 {limit:,} 个字符。"),
    "file.bad_name": ("The template name {name} cannot be a file name: use letters, digits, '-', '_' and '.' (not "
                      "'..'), starting with a letter or digit.",
                      "模板名称 {name} 不能用作文件名：请使用字母、数字、'-'、'_' 和 '.'（不能是 '..'），并以字母或数字"
                      "开头。"),
    "file.long_name": ("The template name is {length:,} characters long; a library template's name (its file name) "
                       "may have at most {limit}, fewer in scripts that take several bytes a character. Shorten it.",
                       "模板名称长 {length:,} 个字符；模板库中模板的名称（即文件名）最多 {limit} 个字符，对每个字符"
                       "占多个字节的文字还要更少。请缩短它。"),
    "file.did_you_mean_one_of": (" Did you mean: {names}?", "您是想用：{names} 吗？"),
    "file.unreadable_there": (" ({n} files there could not be read: {names}; `promptlab templates list` says why.)",
                              "（那里有 {n} 个文件无法读取：{names}；`promptlab templates list` 会说明原因。）"),
    "file.unknown_template": ("Unknown template {name}.{guess} Give a shipped template's name, one you saved, or a "
                              ".yaml file path; shipped templates are in {shipped}, yours in {yours}.{broken}",
                              "未知模板 {name}。{guess}请给出内置模板的名称、您保存的模板名称或 .yaml 文件路径；内置模板"
                              "在 {shipped}，您的模板在 {yours}。{broken}"),
    # ---- the library ----
    "library.exists_one": ("You already have a template named {names}.", "您已经有名为 {names} 的模板。"),
    "library.exists_many": ("You already have templates named {names}.", "您已经有名为 {names} 的模板。"),
    "library.two_named": ("Two templates are named {name}: give each its own name.",
                          "有两个模板都叫 {name}：请给每个模板不同的名称。"),
    "library.full": ("Your library holds {n} templates; it keeps at most {limit}. Delete some first.",
                     "您的模板库已有 {n} 个模板；最多保存 {limit} 个。请先删除一些。"),
    "library.name_taken": ("You already have a template named {name}: pick another name, or delete that one first.",
                           "您已经有名为 {name} 的模板：请换一个名称，或先删除那个模板。"),
    "library.not_yours": ("You have no template named {name}: pick one of yours ({n} saved).",
                          "您没有名为 {name} 的模板：请选择您自己的模板（已保存 {n} 个）。"),
    "library.shipped_overwritten": ("{names} is a shipped template; shipped templates are read-only and cannot be "
                                    "overwritten. Save under another name.",
                                    "{names} 是内置模板；内置模板只读，不能覆盖。请用其他名称保存。"),
    "library.shipped_overwritten_many": ("{names} are shipped templates; shipped templates are read-only and cannot "
                                         "be overwritten. Save under another name.",
                                         "{names} 是内置模板；内置模板只读，不能覆盖。请用其他名称保存。"),
    "library.shipped_renamed": ("{names} is a shipped template; shipped templates are read-only and cannot be "
                                "renamed. Only your own templates can be.",
                                "{names} 是内置模板；内置模板只读，不能重命名。只有您自己的模板可以。"),
    "library.shipped_renamed_many": ("{names} are shipped templates; shipped templates are read-only and cannot be "
                                     "renamed. Only your own templates can be.",
                                     "{names} 是内置模板；内置模板只读，不能重命名。只有您自己的模板可以。"),
    "library.shipped_deleted": ("{names} is a shipped template; shipped templates are read-only and cannot be "
                                "deleted. Only your own templates can be.",
                                "{names} 是内置模板；内置模板只读，不能删除。只有您自己的模板可以。"),
    "library.shipped_deleted_many": ("{names} are shipped templates; shipped templates are read-only and cannot be "
                                     "deleted. Only your own templates can be.",
                                     "{names} 是内置模板；内置模板只读，不能删除。只有您自己的模板可以。"),
    # ---- column mapping ----
    "mapping.no_placeholder": ("The template has no placeholder {{{{ {name} }}}} to map; it reads {reads}.",
                               "模板中没有可映射的占位符 {{{{ {name} }}}}；它读取的是 {reads}。"),
    "mapping.no_column": ("no column", "（没有列）"),
    "mapping.unusable_column": ("Column '{column}' cannot be a placeholder: a template reads a column by a name of "
                                "letters, digits and _ that Jinja does not reserve. Rename the column in the data (e.g. "
                                "to 'text'), or write the template for it by hand.",
                                "列 '{column}' 不能作为占位符：模板只能通过由字母、数字和 _ 组成且不是 Jinja 保留字的名称"
                                "读取列。请在数据中重命名该列（例如改为 'text'），或手动为它编写模板。"),
    "mapping.too_long": ("The {field} is {length:,} characters long, over the {limit:,} a template field may have: "
                         "shorten it before mapping its columns.",
                         "{field}长 {length:,} 个字符，超过模板字段允许的 {limit:,} 个字符：请先缩短，再映射它的列。"),
    "mapping.syntax": ("The {field} has a Jinja syntax error: fix it (the studio shows where) before mapping its "
                       "columns.", "{field}有 Jinja 语法错误：请先修正（模板工作室会指出位置），再映射它的列。"),
    "mapping.own_variable": ("The {field} uses '{name}' as a variable of its own ({{% set %}}, a loop variable or a "
                             "macro argument) as well as a column, so renaming it could change what the template "
                             "means. Rename that variable in the template first, or map the column by hand.",
                             "{field}既把 '{name}' 用作自己的变量（{{% set %}}、循环变量或宏参数），又把它当作列，重命名"
                             "可能改变模板的含义。请先在模板中重命名该变量，或手动映射该列。"),
    "mapping.cannot_locate": ("Could not locate every placeholder of the {field}: rename them in the template by hand.",
                              "无法定位{field}中的所有占位符：请在模板中手动重命名。"),
    "mapping.too_deep": ("The template nests too deeply to map its columns.", "模板嵌套过深，无法映射它的列。"),
    "mapping.cannot_locate_any": ("Could not locate the template's placeholders to rename them: rename them in the "
                                  "template by hand.", "无法定位模板的占位符来重命名：请在模板中手动重命名。"),
    "mapping.changes_more": ("Renaming the placeholders of the {field} would change more than their names: rename "
                             "them in the template by hand.",
                             "重命名{field}中的占位符会改变名称以外的内容：请在模板中手动重命名。"),
    # ---- PromptSource files ----
    "promptsource.too_long": ("{source}: {length:,} characters is too long for a PromptSource file; the limit is "
                              "{limit:,}.", "{source}：{length:,} 个字符对 PromptSource 文件来说太长；上限为 {limit:,}。"),
    "promptsource.invalid_yaml": ("{source}: invalid PromptSource YAML: {detail}",
                                  "{source}：无效的 PromptSource YAML：{detail}"),
    "promptsource.too_deep": ("{source}: the YAML nests lists or mappings too deeply to read.",
                              "{source}：YAML 中列表或映射的嵌套过深，无法读取。"),
    "promptsource.not_templates": ("{source}: not a PromptSource templates file (expected a 'templates:' mapping of "
                                   "!Template entries under 'dataset:' and 'subset:').",
                                   "{source}：不是 PromptSource 模板文件（应在 'dataset:' 和 'subset:' 之下有由 "
                                   "!Template 条目组成的 'templates:' 映射）。"),
    "promptsource.no_jinja": ("{source}: template {key} has no 'jinja' field.",
                              "{source}：模板 {key} 没有 'jinja' 字段。"),
    "where.ps_template": ("{source}: template {name}", "{source}：模板 {name}"),
    "promptsource.not_text": ("{where}: expected text, found {found}.", "{where}：应为文本，实际是{found}。"),
    "promptsource.class_labels": ("class_labels must map each column to its label names in class order, e.g. "
                                  "{{'label': ['negative', 'positive']}}.",
                                  "class_labels 必须把每一列映射到按类别顺序排列的标签名，例如 "
                                  "{{'label': ['negative', 'positive']}}。"),
    "promptsource.pipes": ("{where}: its jinja has more than one '|||'; expected 'input ||| target'.",
                           "{where}：其 jinja 中有不止一个 '|||'；应为 '输入 ||| 目标'。"),
    "promptsource.metadata": ("{where}: its metadata is not a mapping.", "{where}：其 metadata 不是映射。"),
}
