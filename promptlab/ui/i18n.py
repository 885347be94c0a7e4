"""Every text the web app shows, in English and Chinese, and the switch that relabels the page.

`t(key, lang)` looks a string up. Components are built through a `Labels` registry (`labels(gr.Button,
value_key="studio.run")`), which remembers which attribute of which component shows which key, so switching the
language is one event that returns a `gr.update` per registered component. Handlers get the current language as an
input and use `t` for their messages. The engine's messages (`promptlab.messages`: errors, template problems) carry a
key and parameters; `say(value, lang)` says them, and the page's own refusals (`PageError`), in the page's language.
"""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from promptlab import messages

LANGUAGES = {"en": "English", "zh": "中文"}
DEFAULT = "en"
GRADIO_LOCALES = {"en": "en", "zh": "zh-CN"}  # gradio's frontend locale for each page language
# gradio 6.31's own zh-CN texts lack these two (its queue position and the screen reader's "done"): English showed.
GRADIO_TEXTS = {"zh-CN": {"status": {"queue_position": "排队中：第 {position} / {size} 位"}, "common": {"complete": "完成"}}}
# Attributes that can be given as a string key: `label_key="..."`, `info_key`, `value_key`, `placeholder_key`.
TEXT_ATTRS = ("label", "info", "value", "placeholder")


def t(key: str, lang: str | None = DEFAULT, **fields) -> str:
    """The text for `key` in `lang` (English when a translation is missing), with `{fields}` filled in: the page's
    own texts, else the engine's (a run status, a method or model family is named by the engine's catalogue)."""
    en, zh = STRINGS[key] if key in STRINGS else messages.CATALOGUE[key]
    text = zh if lang == "zh" and zh else en
    return text.format(**fields) if fields else text


def has(key: str) -> bool:
    """Whether `t` knows `key`."""
    return key in STRINGS or key in messages.CATALOGUE


def language_of(value) -> str:
    """A language code from a widget value (tolerates None and unknown values)."""
    return value if value in LANGUAGES else DEFAULT


class PageError(ValueError):
    """A refusal of the page itself (no data loaded yet, ...), raised where the page language is not at hand: a key
    of this module's STRINGS and its fields; str() is the English text, `say` renders it in the page's language."""

    def __init__(self, key: str, /, **fields):
        super().__init__(t(key, DEFAULT, **fields))
        self.page_key, self.fields = key, fields

    def __reduce__(self):
        return (_page_error, (self.page_key, self.fields))

    def say(self, lang: str | None) -> str:
        return t(self.page_key, lang, **self.fields)


def _page_error(key: str, fields: dict) -> PageError:
    return PageError(key, **fields)


def say(value, lang: str | None) -> str:
    """An engine Message or error, or a PageError, in `lang`; anything else as its text."""
    if isinstance(value, PageError):
        return value.say(lang)
    return messages.say(value, lang)


def message_of(error: BaseException):
    """What an error says, kept so that it can be said again in another language (a Message, a PageError) or as its
    text."""
    return error if isinstance(error, PageError) else messages.message_of(error)


class Labels:
    """Builds components with translated texts and relabels all of them when the language changes."""

    def __init__(self):
        self.entries: list[tuple[gr.components.Component | gr.blocks.Block, dict]] = []

    def __call__(self, cls, *args, choices_fn: Callable[[str], list] | None = None, **kwargs):
        """`cls(*args, **kwargs)` with `<attr>_key` arguments turned into English texts, registered for switching.

        `choices_fn(lang)` gives translated (label, value) choices for dropdowns and radios.
        """
        keys = {attr: kwargs.pop(f"{attr}_key") for attr in TEXT_ATTRS if f"{attr}_key" in kwargs}
        for attr, key in keys.items():
            kwargs[attr] = t(key)
        if choices_fn is not None:
            kwargs["choices"] = choices_fn(DEFAULT)
            keys["choices"] = choices_fn
        component = cls(*args, **kwargs)
        self.entries.append((component, keys))
        return component

    @property
    def components(self) -> list:
        return [component for component, _ in self.entries]

    def updates(self, lang: str) -> list[dict]:
        """One `gr.update` per registered component, in registration order (the outputs of the switch event)."""
        result = []
        for _, keys in self.entries:
            update = {}
            for attr, key in keys.items():
                update[attr] = key(lang) if callable(key) else t(key, lang)
            result.append(gr.update(**update))
        return result


# key: (English, 中文). Keys are grouped by tab; `{name}` fields are filled by t(..., name=...).
STRINGS: dict[str, tuple[str, str]] = {
    # ---- header, tabs, shared messages ----
    "app.title": ("# PromptLab\nDesign hard prompts, score them, and tune soft prompts beside them.",
                  "# PromptLab\n设计硬提示、评测效果，并在旁边训练软提示。"),
    "app.model": ("Model", "模型"),
    "app.language": ("Language", "语言"),
    "app.training_on": ("training enabled", "可以训练"),
    "app.training_off": ("training disabled on this server", "此服务器已关闭训练"),
    "tab.data": ("1 · Data", "1 · 数据"),
    "tab.studio": ("2 · Template studio", "2 · 模板工作室"),
    "tab.compare": ("3 · Compare", "3 · 对比"),
    "tab.tune": ("4 · Tune", "4 · 训练"),
    "tab.runs": ("5 · Runs", "5 · 运行记录"),
    "error.title": ("Could not do that", "操作失败"),
    "warning.title": ("Note", "提示"),
    "info.title": ("Done", "完成"),
    "time.seconds": ("{s} s", "{s} 秒"),
    "time.minutes": ("{m} min {s} s", "{m} 分 {s} 秒"),
    "time.hours": ("{h} h {m} min", "{h} 小时 {m} 分"),
    "progress.loading_model": ("Loading the model…", "正在加载模型…"),
    "progress.scoring": ("Scoring", "评分中"),
    "progress.scoring_one": ("Scoring {name} ({i}/{n})", "正在评分 {name}（{i}/{n}）"),
    "metrics.footer": ("{n} rows · {seconds} s", "{n} 行 · {seconds} 秒"),
    # ---- metrics and table columns ----
    "metric.acc": ("accuracy", "准确率"),
    "metric.acc_norm": ("acc (length-normalised)", "准确率（长度归一）"),
    "metric.acc_calibrated": ("acc (calibrated)", "准确率（校准）"),
    "metric.macro_f1": ("macro-F1", "宏平均 F1"),
    "metric.majority": ("majority class", "多数类"),
    "metric.exact_match": ("exact match", "完全匹配"),
    "metric.contains": ("contains answer", "包含答案"),
    "metric.rouge_l": ("ROUGE-L", "ROUGE-L"),
    "metric.val_loss": ("validation loss", "验证损失"),
    "col.prompt": ("prompt", "提示"),
    "col.gold": ("gold", "标准答案"),
    "col.prediction": ("prediction", "预测"),
    "col.correct": ("correct", "正确"),
    "col.generated": ("generated", "生成文本"),
    "col.name": ("prompt", "提示"),
    "col.row": ("row", "行"),
    "col.rows": ("rows", "行数"),
    "col.input": ("input", "输入"),
    "col.agree": ("agree", "一致"),
    "col.models_agree": ("models agree", "模型一致"),
    "col.model": ("model", "模型"),
    "col.diff": ("difference to the best", "与最佳的差值"),
    "col.interval": ("95% interval", "95% 区间"),
    "col.p_value": ("McNemar p", "McNemar p 值"),
    "col.verdict": ("a real difference?", "差异可信？"),
    "col.shots": ("shots", "示例数"),
    "col.seconds": ("seconds", "秒"),
    "plot.step": ("step", "步数"),
    "plot.soft": ("soft prompt", "软提示"),
    "plot.zero": ("zero-shot", "零样本"),
    "plot.few": ("few-shot", "少样本"),
    "plot.majority": ("majority class", "多数类"),
    "plot.predicted": ("predicted", "预测"),
    "plot.no_matrix": ("No confusion matrix: the prompts generate text (no answer choices)",
                       "没有混淆矩阵：这些提示生成文本（没有候选答案）"),
    "plot.train_loss": ("train loss", "训练损失"),
    "plot.val_loss": ("val loss", "验证损失"),
    "sampler.random": ("random", "随机"),
    "sampler.balanced": ("balanced by label", "按标签均衡"),
    # ---- models (the header's picker) ----
    "models.pick": ("Model", "模型"),
    "models.pick_info": ("A bundled model, or type a local model folder or a Hugging Face model id",
                         "内置模型，或输入本地模型文件夹或 Hugging Face 模型 ID"),
    "models.pick_info_offered": ("The models this server offers", "本服务器提供的模型"),
    "models.loading": ("Loading {model}…", "正在加载 {model}…"),
    "models.load_failed": ("Could not use this model", "无法使用该模型"),
    "models.kept": (" Still using {model}.", " 仍在使用 {model}。"),
    "models.empty": ("Pick or type a model first", "请先选择或输入一个模型"),
    "models.not_installed": ("{model} is not installed here. Install it with: {hint}",
                             "{model} 尚未在此安装。安装命令：{hint}"),
    "models.not_installed_short": ("not installed", "未安装"),
    "models.not_offered": ("This public server scores only with the models it offers ({offered}); {model} is not "
                           "one of them.", "此公开服务器只使用它提供的模型（{offered}）；{model} 不在其中。"),
    "models.no_paths": ("Loading a model from a server folder is turned off here: pick one of the offered models "
                        "or type a Hugging Face model id.",
                        "此服务器不允许从服务器文件夹加载模型：请选择提供的模型，或输入 Hugging Face 模型 ID。"),
    "models.size": ("{size} MB of the {budget} MB for models", "占用 {size} MB（模型内存上限 {budget} MB）"),
    "models.size_unlimited": ("{size} MB", "占用 {size} MB"),
    "models.also_loaded": ("also loaded: {models}", "同时已加载：{models}"),
    "models.with_adapter": ("{model} + soft prompt", "{model} + 软提示"),
    "models.unloaded": ("Unloaded {old} to make room for {new}.", "已卸载 {old}，为 {new} 腾出内存。"),
    "supports.causal": ("scores answer choices and generates text", "为候选答案打分，也能生成文本"),
    "supports.seq2seq": ("scores answer choices and generates text", "为候选答案打分，也能生成文本"),
    "supports.masked": ("scores the label word at a {{ mask }} slot (cloze templates); cannot generate text",
                        "在 {{ mask }} 位置为标签词打分（完形填空模板）；不能生成文本"),
    # ---- data ----
    "data.intro": ("Pick a task: the built-in demo, a local file or folder, an upload, or a Hugging Face dataset "
                   "name. The other tabs use the splits and eval size chosen here.",
                   "选择任务：内置演示、本地文件或文件夹、上传文件，或 Hugging Face 数据集名称。其他标签页使用这里选定的"
                   "数据划分和评测规模。"),
    "data.demo": ("Built-in demo task", "内置演示任务"),
    "data.use_demo": ("Use demo task", "使用演示任务"),
    "data.source": ("Local file/folder or Hugging Face dataset", "本地文件/文件夹或 Hugging Face 数据集"),
    "data.source_placeholder": ("e.g. data/reviews.csv, ./my_task/, or sst2", "例如 data/reviews.csv、./my_task/ 或 sst2"),
    "data.load": ("Load", "加载"),
    "data.upload": ("…or upload CSV / TSV / JSONL / Parquet", "……或上传 CSV / TSV / JSONL / Parquet"),
    "data.label_column": ("Label column", "标签列"),
    "data.train_split": ("Train split (demonstrations, tuning)", "训练划分（示例、训练）"),
    "data.eval_split": ("Eval split", "评测划分"),
    "data.eval_size": ("Eval size (rows)", "评测规模（行）"),
    "data.distribution": ("Label distribution", "标签分布"),
    "data.preview": ("Preview (first rows of the train split)", "预览（训练划分前几行）"),
    "data.rows": ("rows", "行"),
    "data.splits": ("Splits", "数据划分"),
    "data.columns": ("Columns", "列"),
    "data.labels": ("Labels", "标签"),
    "data.no_label": ("(no label column)", "（无标签列）"),
    "data.no_labels_plot": ("No label column: nothing to count", "没有标签列，无法统计"),
    "data.using": ("Scoring uses **{n}** rows of {eval}; demonstrations and tuning come from {train}.",
                   "评测使用 {eval} 的 **{n}** 行；示例与训练来自 {train}。"),
    "data.no_source": ("Type a file or folder path, or a dataset name", "请输入文件或文件夹路径，或数据集名称"),
    "data.local_disabled": ("Reading files on the server by path is turned off here (a public Space): upload the "
                            "file instead, or use a demo task or a Hugging Face dataset name",
                            "此服务器（公开 Space）不允许按路径读取服务器上的文件：请上传文件，或使用示例任务或 Hugging Face 数据集名称"),
    "data.too_big": ("The file is {size}, more than the {limit} limit. Use a smaller sample of the data.",
                     "文件大小 {size}，超过上限 {limit}。请使用较小的数据样本。"),
    "data.still_using": (" Still using {name}, as loaded before.", "仍在使用之前加载的 {name}。"),
    "data.load_failed": ("Could not load the data", "无法加载数据"),
    "data.bad_split_seed": ("The split seed must be a whole number, got {value}.", "划分随机种子必须是整数，实际为 {value}。"),
    "data.none_loaded": ("No data loaded yet: pick a task in the Data tab first.", "还没有加载数据：请先在数据页选择任务。"),
    "data.run_without_data": ("Run {run} names no data.", "运行 {run} 没有指明数据。"),
    # the validation split held out of single-split data, and overlap of scored and demonstration rows
    "data.holdout": ("Hold out a validation split", "划出验证集"),
    "data.holdout_info": ("This data has one split: score on held-out rows, draw demonstrations and tune on the "
                          "rest", "此数据只有一个划分：在划出的行上评测，其余的行用作示例和训练"),
    "data.val_fraction": ("Validation share", "验证集比例"),
    "data.split_seed": ("Split seed", "划分随机种子"),
    "data.holdout_note": ("**Validation split**: {val} of {total} rows held out for scoring ({pct}, {how}, seed "
                          "{seed}); the other {train} are for demonstrations and tuning.",
                          "**验证集**：从 {total} 行中划出 {val} 行用于评测（{pct}，{how}，随机种子 {seed}）；其余 {train} "
                          "行用于示例和训练。"),
    "data.stratified": ("each label in proportion, by {label}", "按 {label} 分层，各标签比例不变"),
    "data.not_stratified": ("at random", "随机划分"),
    "data.overlap_same": ("**The rows scored are also the demonstration rows**: demonstrations and tuning come from "
                          "{split}, the split being scored. A scored row is never shown itself as a demonstration, "
                          "but it sees its neighbours' labels, so few-shot scores can be optimistic, and tuning "
                          "needs rows of its own. Hold out a validation split, or pick different train and eval "
                          "splits.",
                          "**评测的行同时也是示例行**：示例和训练都取自正在评测的划分 {split}。评测行不会把自己当作示例，"
                          "但能看到相邻行的标签，因此少样本得分可能偏高；训练也需要单独的行。请划出验证集，或选择不同的"
                          "训练划分和评测划分。"),
    "data.overlap_rows": ("**{n} of the {total} rows scored also appear in {train}** (same values, label and ids "
                          "aside), where demonstrations and tuning come from: such a row can be shown its own twin, "
                          "with its label, so scores on it can be optimistic.",
                          "**评测的 {total} 行中有 {n} 行也出现在 {train} 中**（不计标签和编号列，其余取值相同），"
                          "而示例和训练取自该划分：这样的行可能把自己的副本连同标签当作示例，得分可能偏高。"),
    # ---- template studio ----
    "studio.intro": ("Write the prompt as a Jinja template over the data's columns, e.g. `{{ text }}`. Problems "
                     "and rendered prompts update as you type.",
                     "用 Jinja 模板引用数据列来编写提示，例如 `{{ text }}`。问题列表和渲染结果会随输入实时更新。"),
    "studio.library": ("Template library", "模板库"),
    "studio.load": ("Load", "加载"),
    "studio.blank": ("Start blank", "新建空白模板"),
    "studio.name": ("Name", "名称"),
    "studio.instruction": ("Instruction (optional)", "指令（可选）"),
    "studio.instruction_info": ("Put before the demonstrations; also the soft prompt's default init text",
                                "放在示例之前；也是软提示默认的初始化文本"),
    "studio.prompt": ("Prompt", "提示"),
    "studio.prompt_info": ("What the model reads for one row", "模型对每一行读取的内容"),
    "studio.target": ("Target", "目标"),
    "studio.target_info": ("The gold answer, usually {{ label }}", "标准答案，通常为 {{ label }}"),
    "studio.choices": ("Answer choices", "候选答案"),
    "studio.choices_info": ("Separated by |||, or a Jinja expression; empty = free generation",
                            "用 ||| 分隔，或写 Jinja 表达式；留空表示自由生成"),
    "studio.more": ("More options", "更多选项"),
    "studio.target_delimiter": ("Target delimiter", "目标分隔符"),
    "studio.fewshot_delimiter": ("Few-shot delimiter", "示例分隔符"),
    "studio.language": ("Language", "语言"),
    "studio.chat": ("Chat template", "聊天模板"),
    "studio.chat_info": ("Wrap the prompt in the model's chat format", "用模型的聊天格式包装提示"),
    "studio.task": ("Task", "任务"),
    "studio.description": ("Description", "描述"),
    "studio.reference": ("Reference (paper, source)", "参考来源（论文、出处）"),
    "studio.placeholders": ("Placeholders", "占位符"),
    "studio.none": ("none yet", "暂无"),
    "studio.no_problems": ("No problems", "没有问题"),
    "studio.problems": ("{n} problem(s)", "{n} 个问题"),
    "studio.where": (" (line {line}, column {column})", "（第 {line} 行，第 {column} 列）"),
    "studio.rendered": ("Rendered prompts (gold target in ⟦ ⟧)", "渲染后的提示（标准答案在 ⟦ ⟧ 中）"),
    "studio.chat_note": ("A chat template: the model reads each prompt inside its own chat template (Preview's table "
                         "shows the prompt in full).", "对话模板：模型读到的每条提示都套在它自己的对话模板里（预览表格显示完整提示）。"),
    "studio.row": ("Row {n}", "第 {n} 行"),
    "studio.run_title": ("### Try it on the model", "### 用模型试一试"),
    "studio.rows": ("Rows", "行数"),
    "studio.shots": ("Shots (demonstrations)", "示例数（少样本）"),
    "studio.sampler": ("Demonstration sampler", "示例抽样方式"),
    "studio.seed": ("Seed", "随机种子"),
    "studio.generate": ("Also generate", "同时生成"),
    "studio.generate_info": ("Show the model's free answer too (slower)", "同时显示模型的自由回答（较慢）"),
    "studio.stop": ("Stop", "停止"),
    "studio.run": ("Preview", "预览"),
    "studio.results": ("Per-row results", "逐行结果"),
    "studio.save_title": ("Save", "保存"),
    "studio.yaml": ("Template YAML", "模板 YAML"),
    "studio.download": ("Download YAML", "下载 YAML"),
    "studio.save": ("Save to library", "保存到模板库"),
    "studio.saved": ("Saved to your library as {name}", "已保存到我的模板库：{name}"),
    "studio.pick_first": ("Pick a template from the library first", "请先从模板库中选择一个模板"),
    "studio.fix_first": ("The template is not ready: fix the problems listed in the studio",
                         "模板尚未就绪：请先修正工作室中列出的问题"),
    "studio.load_failed": ("Could not load the template", "无法加载模板"),
    "studio.run_failed": ("Could not score the template", "无法为模板评分"),
    "studio.save_failed": ("Could not save the template", "无法保存模板"),
    # column mapping: a template's placeholders renamed to the data's columns
    "studio.map_title": ("Column mapping", "列映射"),
    "studio.map_missing": ("This data has no column {names}. Pick the column each placeholder means and apply: "
                           "the placeholders are renamed in the template, so what you see is what is scored.",
                           "此数据没有列 {names}。请为每个占位符选择对应的列并应用：模板中的占位符会被重命名，"
                           "所见即所评。"),
    "studio.map_applied": ("Mapped to this data's columns: {pairs}. The editor shows the mapped template; pick "
                           "another column and apply to change it.",
                           "已映射到此数据的列：{pairs}。编辑器显示的是映射后的模板；选择其他列并应用即可更改。"),
    "studio.map_more": ("{n} more placeholder(s): rename them in the template by hand.",
                        "还有 {n} 个占位符：请在模板中手动重命名。"),
    "studio.map_slot": ("{{{{ {name} }}}} reads column", "{{{{ {name} }}}} 读取的列"),
    "studio.map_apply": ("Apply mapping", "应用映射"),
    "studio.map_pick": ("Pick a column for a placeholder first", "请先为占位符选择一列"),
    "studio.map_failed": ("Could not map the columns", "无法映射列"),
    "studio.class_labels": ("Class labels (integer labels)", "类别标签（整数标签）"),
    "studio.class_labels_info": ("Per line, a column the template reads as class numbers and its label names in "
                                 "class order, e.g. label: negative ||| positive (PromptSource templates)",
                                 "每行一列：模板按类别编号读取的列，及按类别顺序排列的标签名，例如 "
                                 "label: negative ||| positive（PromptSource 模板）"),
    "studio.import": ("Import YAML…", "导入 YAML……"),
    "studio.yours_label": ("{name} · yours", "{name} · 我的"),
    "studio.library_counts": ("{shipped} shipped templates (read-only) · {own} of yours",
                              "{shipped} 个内置模板（只读）· {own} 个我的模板"),
    "studio.picked_shipped": ("{name} is a shipped template: read-only. Edit it and save it under a new name to "
                              "keep your version.", "{name} 是内置模板（只读）。修改后以新名称保存，即可保留你的版本。"),
    "studio.picked_own": ("✎ {name} is yours: Save asks before overwriting it; rename or delete it under "
                          "“Manage your templates”.", "✎ {name} 是你的模板：保存时覆盖前会先询问；可在“管理我的模板”中"
                          "重命名或删除。"),
    "studio.manage": ("Manage your templates", "管理我的模板"),
    "studio.new_name": ("New name", "新名称"),
    "studio.rename": ("Rename", "重命名"),
    "studio.delete": ("Delete…", "删除……"),
    "studio.confirm_delete": ("Yes, delete it", "确认删除"),
    "studio.delete_ask": ("Delete your template {name}? This cannot be undone.", "删除你的模板 {name}？此操作无法撤销。"),
    "studio.overwrite": ("Yes, overwrite it", "确认覆盖"),
    "studio.overwrite_ask": ("You already have a template named {name}. Overwrite it?",
                             "你已有名为 {name} 的模板。要覆盖它吗？"),
    "studio.shipped_read_only": ("{name} is a shipped template, and shipped templates are read-only: save under "
                                 "another name.", "{name} 是内置模板，内置模板只读：请用其他名称保存。"),
    "studio.shipped_keep": ("{name} is a shipped template: only your own templates can be renamed or deleted.",
                            "{name} 是内置模板：只能重命名或删除你自己的模板。"),
    "studio.pick_own": ("Pick one of your templates in the library first", "请先在模板库中选择一个你自己的模板"),
    "studio.renamed": ("Renamed {old} to {new}", "已将 {old} 重命名为 {new}"),
    "studio.deleted": ("Deleted {name}", "已删除 {name}"),
    "studio.loaded_file": ("Loaded {name} from {file} into the editor. Save it to keep it in your library.",
                           "已将 {file} 中的 {name} 加载到编辑器。保存后即可保留在我的模板库中。"),
    "studio.ps_found": ("{file}: {n} PromptSource templates for {dataset}. Load one into the editor, or import them "
                        "all into your library.", "{file}：{n} 个适用于 {dataset} 的 PromptSource 模板。可将其中一个"
                        "加载到编辑器，或全部导入我的模板库。"),
    "studio.ps_classes": ("Label names read as class numbers, in this order: {classes}",
                          "标签名按以下顺序读作类别编号：{classes}"),
    "studio.ps_no_classes": ("PromptLab knows no class names for {dataset}: where a template reads integer labels, "
                             "fill in Class labels (More options) with the label names in class order.",
                             "PromptLab 不知道 {dataset} 的类别名：若模板读取整数标签，请在“更多选项”的“类别标签”中"
                             "按类别顺序填写标签名。"),
    "studio.ps_pick": ("Templates in the file", "文件中的模板"),
    "studio.ps_load": ("Load into the editor", "加载到编辑器"),
    "studio.ps_all": ("Import all into my library", "全部导入我的模板库"),
    "studio.ps_overwrite": ("Yes, replace mine", "确认替换我的模板"),
    "studio.ps_overwrite_ask": ("You already have templates named {names}. Replace them?",
                                "你已有以下名称的模板：{names}。要替换它们吗？"),
    "studio.ps_imported": ("Imported {n} template(s) into your library", "已导入 {n} 个模板到我的模板库"),
    "studio.import_failed": ("Could not import the file", "无法导入文件"),
    "studio.rename_failed": ("Could not rename the template", "无法重命名模板"),
    "studio.delete_failed": ("Could not delete the template", "无法删除模板"),
    # ---- compare ----
    "compare.intro": ("Score several prompts on the same rows, shots and seeds: library templates, your draft, and "
                      "trained soft prompts.",
                      "在相同的数据行、示例数和种子下为多个提示评分：模板库中的模板、你的草稿以及训练好的软提示。"),
    "compare.pick": ("Prompts to compare", "要对比的提示"),
    "compare.refresh": ("Refresh list", "刷新列表"),
    "compare.unknown_template": ("Unknown template {name}: it is not in your library (any more)",
                                 "未知模板 {name}：它（已）不在你的模板库中"),
    "compare.draft": ("✎ current draft (studio)", "✎ 当前草稿（工作室）"),
    "compare.mapped_label": ("{name} (mapped: {pairs})", "{name}（已映射：{pairs}）"),
    "compare.draft_short": ("draft", "草稿"),
    "compare.unknown_candidate": ("Unknown prompt {pick}: refresh the list and pick again",
                                  "未知的提示 {pick}：请刷新列表后重新选择"),
    "compare.run_label": ("{name} + {method} [{run}]", "{name} + {method} [{run}]"),
    "compare.run_hard_label": ("{name}: the run's hard prompt [{run}]", "{name}：该运行的硬提示 [{run}]"),
    "compare.rows_info": ("Scores the {n} evaluation rows of {split} ({data}) chosen in the Data tab.",
                          "对数据页选定的 {data} {split} 中 {n} 条评测行评分。"),
    "compare.some_failed": ("{n} prompt(s) or model(s) could not be scored; the others are below.",
                            "{n} 个提示或模型无法评分；其余结果如下。"),
    "compare.seeds": ("Seeds", "种子数"),
    "compare.seeds_info": ("Few-shot only: demonstration sets to average over", "仅少样本：取平均的示例组数"),
    "compare.run": ("Compare", "开始对比"),
    "compare.metrics": ("Metrics", "指标"),
    "compare.chart": ("Scores (error bars: spread over seeds)", "得分（误差线：不同种子的波动）"),
    "compare.confusion": ("Confusion matrices", "混淆矩阵"),
    "compare.only_disagree": ("Only rows where the prompts disagree", "只看提示之间结果不一致的行"),
    "compare.examples": ("Per-example predictions", "逐条预测"),
    "compare.csv_metrics": ("Download metrics CSV", "下载指标 CSV"),
    "compare.csv_examples": ("Download per-example CSV", "下载逐条结果 CSV"),
    "compare.pick_some": ("Pick at least one prompt to compare", "请至少选择一个提示进行对比"),
    "compare.failed": ("Could not compare", "无法完成对比"),
    "compare.models": ("Models", "模型"),
    "compare.models_info": ("Each prompt is scored with each model on the same rows, shots and seeds (a soft "
                            "prompt with its own base model)",
                            "每个提示都用每个模型在相同的数据行、示例数和种子下评分（软提示使用其自身的基础模型）"),
    "compare.grid": ("Prompts × models", "提示 × 模型"),
    "compare.chart_models": ("{metric} by model (error bars: spread over seeds)",
                             "各模型的{metric}（误差线：不同种子的波动）"),
    "compare.only_models_disagree": ("Only rows where the models disagree", "只看模型之间结果不一致的行"),
    "compare.significance": ("Is the difference real?", "差异是否可信？"),
    "compare.significance_info": (
        "Each prompt against the best one, on the same rows of the first seed: the difference with its 95% "
        "paired-bootstrap interval, and McNemar's exact p. Below 0.05 the difference is unlikely to be chance; an "
        "interval that contains 0 means these rows cannot tell the two apart.",
        "每个提示都与最佳提示在第一个种子的相同数据行上比较：给出差值及其 95% 配对自助法区间，以及 McNemar 精确检验的 "
        "p 值。p 小于 0.05 表示差异不太可能是偶然；区间包含 0 表示这些数据行无法区分两者。"),
    "compare.report": ("Download HTML report", "下载 HTML 报告"),
    "compare.zero_shot": ("zero-shot", "零样本"),
    "compare.shots_seed": ("{shots}-shot, seed {seed}", "{shots} 个示例，种子 {seed}"),
    "compare.note_zero": ("Zero-shot: no demonstrations, so no seed; every figure below is one pass over the rows.",
                          "零样本：没有示例，因此没有种子；下面每个数字都来自对这些数据行的一次评测。"),
    "compare.note_one_seed": ("{shots}-shot with demonstration seed {seed}: every figure, table and matrix below "
                              "shows that seed.",
                              "{shots} 个示例，示例种子 {seed}：下面所有数字、表格和矩阵都来自这个种子。"),
    "compare.note_seeds": ("{shots}-shot: the metrics and the chart average demonstration seeds {first}–{last} (± "
                           "their spread); the confusion matrices, the significance test and the per-row "
                           "predictions show seed {first}.",
                           "{shots} 个示例：指标和图表是示例种子 {first}–{last} 的平均值（± 为波动）；混淆矩阵、显著性"
                           "检验和逐条预测来自种子 {first}。"),
    "sig.best": ("best (reference)", "最佳（参照）"),
    "sig.differs": ("yes: unlikely to be chance", "是：不太可能是偶然"),
    "sig.chance": ("not shown: could be chance", "未能证明：可能是偶然"),
    "report.title": ("PromptLab comparison", "PromptLab 对比报告"),
    "report.setting": ("setting", "设置"),
    "report.value": ("value", "值"),
    "report.date": ("date", "日期"),
    "report.data": ("data [split]", "数据 [划分]"),
    "report.models": ("models", "模型"),
    "report.seeds": ("demonstration seeds", "示例种子"),
    "report.messages": ("Messages", "消息"),
    "report.templates": ("Templates", "模板"),
    "report.footer": ("Made with PromptLab: every figure here was scored by the same code as the app and "
                      "`promptlab score`.", "由 PromptLab 生成：这里每个数字都与应用和 `promptlab score` 使用同一套"
                      "评分代码。"),
    # ---- tune ----
    "tune.intro": ("Train a soft prompt for the current template and task. The job runs in the background: closing "
                   "this page does not stop it.",
                   "为当前模板和任务训练软提示。任务在后台运行：关闭页面不会中断它。"),
    "tune.disabled": ("⚠ Training is disabled on this server (e.g. a public Space). Everything else works.",
                      "⚠ 此服务器已关闭训练（例如公开的 Space），其他功能照常可用。"),
    "tune.using": ("Template **{template}** · data **{data}** ({train} → {eval}, {n} eval rows) · model {model}",
                   "模板 **{template}** · 数据 **{data}**（{train} → {eval}，评测 {n} 行）· 模型 {model}"),
    "tune.need_inputs": ("Load data and a template first", "请先加载数据和模板"),
    "tune.method": ("Method", "方法"),
    "tune.init": ("Initialisation", "初始化"),
    "tune.tokens": ("Virtual tokens", "虚拟 token 数"),
    "tune.preset": ("Device preset", "设备预设"),
    "tune.lr": ("Learning rate", "学习率"),
    "tune.steps": ("Steps", "训练步数"),
    "tune.batch": ("Batch size", "批大小"),
    "tune.launch": ("Launch", "开始训练"),
    "tune.launched": ("Job {run} queued", "任务 {run} 已加入队列"),
    "tune.dashboard": ("### Live dashboard", "### 实时面板"),
    "tune.watch": ("Run shown", "显示的运行"),
    "tune.cancel": ("Cancel", "取消"),
    "tune.accuracy": ("Validation score vs. manual prompts", "验证得分与手工提示对比"),
    "tune.loss": ("Loss", "损失"),
    "tune.nearest": ("Nearest vocabulary tokens of the soft prompt", "软提示最接近的词表 token"),
    "tune.col_token": ("virtual token", "虚拟 token"),
    "tune.col_nearest": ("nearest tokens", "最接近的 token"),
    "tune.col_drift": ("drift from init", "相对初始的偏移"),
    "tune.to_compare": ("Score in Compare", "在对比中评分"),
    "tune.download_adapter": ("Download adapter", "下载适配器"),
    "tune.download_bundle": ("Download run bundle", "下载运行包"),
    "tune.step": ("step {step} / {total} ({share})", "第 {step} / {total} 步（{share}）"),
    "tune.eta": ("about {eta} left", "预计剩余 {eta}"),
    "tune.best": ("best {metric} {value} at step {step}", "最佳 {metric} {value}（第 {step} 步）"),
    "tune.measuring": ("measuring the manual prompts' baselines first", "正在先测量手工提示的基线"),
    "tune.no_run": ("No run yet: launch one above", "还没有运行：请在上方开始训练"),
    "tune.pick_run": ("Pick a run first", "请先选择一个运行"),
    "tune.launch_failed": ("Could not launch the job", "无法启动训练任务"),
    "tune.cancel_failed": ("Could not cancel the job", "无法取消训练任务"),
    "tune.more": ("More settings: evaluation, seed, schedule, early stopping",
                  "更多设置：评测、随机种子、学习率计划、提前停止"),
    "tune.eval_every": ("Evaluate every (steps)", "每隔多少步评测"),
    "tune.eval_every_info": ("0 = only at the start and the end", "0 表示只在开始和结束时评测"),
    "tune.eval_size": ("Evaluation rows", "评测行数"),
    "tune.eval_size_info": ("Of the eval split; starts as the Data tab's", "取自评测划分；默认与数据页相同"),
    "tune.seed": ("Seed", "随机种子"),
    "tune.warmup": ("Warmup steps", "预热步数"),
    "tune.warmup_info": ("At most a tenth of the run", "最多为总步数的十分之一"),
    "tune.schedule": ("Learning-rate schedule after warmup", "预热后的学习率计划"),
    "tune.patience": ("Early stopping patience", "提前停止的耐心值"),
    "tune.patience_info": ("Evaluations without improvement before stopping; 0 = off",
                           "连续多少次评测没有提升就停止；0 表示关闭"),
    "schedule.linear": ("linear decay", "线性衰减"),
    "schedule.cosine": ("cosine decay", "余弦衰减"),
    "schedule.constant": ("constant", "保持不变"),
    "tune.estimate": ("Estimated duration: about **{time}** for {steps} steps",
                      "预计用时：约 **{time}**，共 {steps} 步"),
    "tune.estimate_at_most": ("Estimated duration: at most about **{time}** for {steps} steps",
                              "预计用时：最多约 **{time}**，共 {steps} 步"),
    "tune.estimate_parts": ("training {train}, evaluations {eval}, loading {load}",
                            "训练 {train}，评测 {eval}，加载 {load}"),
    "tune.estimate_reused": ("the manual prompts' baselines were measured before and are reused",
                             "手工提示的基线此前已测量，将直接复用"),
    "tune.estimate_measured_baselines": ("includes measuring the manual prompts' baselines (once: later runs from "
                                         "this template reuse them)",
                                         "包括测量手工提示的基线（只测一次：之后用同一模板的运行会复用）"),
    "tune.estimate_how_measured": ("Measured on this machine: the last run of this model ({run}) trained at "
                                   "{speed} characters/s and evaluated at {eval_speed} characters/s.",
                                   "基于本机实测：该模型最近一次运行（{run}）训练速度为每秒 {speed} 个字符，评测速度为每秒 "
                                   "{eval_speed} 个字符。"),
    "tune.estimate_how_formula": ("No run of this model has been measured on this machine yet, so this is an upper "
                                  "bound for a slow machine: 6 × {params} parameters of work per trained token and "
                                  "2 × per evaluated token (characters ÷ 3), at {gflops} GFLOP/s, plus 30 s to load. "
                                  "After the first run the estimate uses this machine's measured speed.",
                                  "本机尚未测量过该模型的运行速度，因此这是按较慢机器估算的上限：每个训练 token 计 6 × "
                                  "{params} 参数的计算量，每个评测 token 计 2 ×（字符数 ÷ 3），按每秒 {gflops} GFLOP "
                                  "计算，另加 30 秒加载时间。首次运行后，估计将使用本机实测速度。"),
    "tune.estimate_unknown": ("{steps} steps; no estimate of the duration: this model's weights are not on this "
                              "machine yet, and no run of it was measured here.",
                              "共 {steps} 步；无法估计用时：该模型的权重尚不在本机，本机也没有测量过它的运行速度。"),
    "tune.estimate_none": ("No estimate: {reason}", "无法估计用时：{reason}"),
    "tune.stopping": ("stopping…", "正在停止…"),
    "tune.stopping_toast": ("Stopping run {run}: it ends after the step in progress.",
                            "正在停止运行 {run}：当前这一步完成后结束。"),
    "tune.ran": ("ran {time}", "已运行 {time}"),
    "tune.resumed_from": ("resumed from its checkpoint at step {step}", "已从第 {step} 步的检查点继续"),
    "tune.restarted": ("restarted at step 0: no checkpoint had been written before it stopped",
                       "从第 0 步重新开始：停止前还没有写入检查点"),
    "tune.baselines_reused": ("baselines reused from an earlier run", "基线沿用之前运行的测量结果"),
    "tune.worse": ("This run ended worse than it started: {metric} {start} at step 0, {last} at step {step}.",
                   "这次运行的结果比开始时更差：第 0 步 {metric} 为 {start}，第 {step} 步为 {last}。"),
    "tune.exported": ("The downloads hold the adapter of the best evaluation, step {step} (not necessarily the "
                      "last step).",
                      "下载的适配器来自评测最好的一次，即第 {step} 步（不一定是最后一步）。"),
    "init.template": ("from this template", "来自当前模板"),
    "init.class_labels": ("class label words", "类别标签词"),
    "init.sample_vocab": ("sampled vocabulary", "词表随机采样"),
    "init.random": ("random", "随机"),
    "preset.cpu": ("CPU (minutes)", "CPU（数分钟）"),
    "preset.gpu": ("GPU (longer, larger batches)", "GPU（更久、更大批次）"),
    "preset.test": ("tiny smoke test", "极小测试"),
    # ---- runs ----
    "runs.intro": ("Your tuning runs (on a private app, every run on disk). Click rows (or pick below) to see and overlay their curves; name them, "
                   "write a note, resume, cancel, delete, download or score them.",
                   "你的训练运行（私有应用中为磁盘上的所有运行）。点击表格中的行（或在下方选择）以查看和叠加曲线；可以命名、写备注，"
                   "或继续、取消、删除、下载、评分。"),
    "runs.sort": ("Sort by", "排序方式"),
    "runs.sort_newest": ("newest first", "最新在前"),
    "runs.sort_oldest": ("oldest first", "最早在前"),
    "runs.sort_name": ("name", "名称"),
    "runs.sort_status": ("status", "状态"),
    "runs.sort_best": ("best score", "最佳得分"),
    "runs.sort_duration": ("duration", "用时"),
    "runs.cancel": ("Cancel", "取消运行"),
    "runs.name": ("Name of the first selected run", "第一个所选运行的名称"),
    "runs.name_placeholder": ("e.g. lr 0.3, 50 tokens", "例如：学习率 0.3，50 个 token"),
    "runs.note": ("Note", "备注"),
    "runs.note_placeholder": ("What you tried, what you saw", "尝试了什么，看到了什么"),
    "runs.save_notes": ("Save name and note", "保存名称和备注"),
    "runs.notes_saved": ("Name and note of {run} saved", "已保存 {run} 的名称和备注"),
    "runs.notes_failed": ("Could not save the name and note", "无法保存名称和备注"),
    "runs.col_name": ("name", "名称"),
    "runs.col_note": ("note", "备注"),
    "runs.resume_continues": ("Resume: run {run} continues from step {step}, its last checkpoint.",
                              "继续运行：{run} 将从最后的检查点（第 {step} 步）继续。"),
    "runs.resume_restarts": ("Resume: run {run} has no checkpoint (it stopped before writing one), so it starts "
                             "over at step 0 ({steps} steps were taken before).",
                             "继续运行：{run} 没有检查点（停止前还没写入），因此将从第 0 步重新开始（此前已走 {steps} 步）。"),
    "runs.resumed_at": ("Run {run} resumed from step {step}.", "运行 {run} 已从第 {step} 步继续。"),
    "runs.restarted": ("Run {run} restarted at step 0: it had no checkpoint.",
                       "运行 {run} 已从第 0 步重新开始：它没有检查点。"),
    "runs.stopping": ("Stopping {n} run(s): each ends after the step in progress.",
                      "正在停止 {n} 个运行：各自在当前这一步完成后结束。"),
    "runs.none_active": ("None of the selected runs is queued or running", "所选运行中没有排队或运行中的"),
    "runs.cancel_failed": ("Could not cancel", "无法取消运行"),
    "runs.table": ("Runs", "运行列表"),
    "runs.pick": ("Selected runs", "已选运行"),
    "runs.pick_info": ("Curves of all selected runs are overlaid", "所选运行的曲线会叠加显示"),
    "runs.refresh": ("Refresh", "刷新"),
    "runs.resume": ("Resume", "继续运行"),
    "runs.to_compare": ("Score in Compare", "在对比中评分"),
    "runs.delete": ("Delete…", "删除……"),
    "runs.confirm_delete": ("Yes, delete the selected runs", "确认删除所选运行"),
    "runs.overlay": ("Selected runs overlaid", "所选运行叠加"),
    "runs.details": ("Details and log", "详情与日志"),
    "runs.log": ("Worker log (tail)", "训练日志（末尾）"),
    "runs.device": ("Device", "设备"),
    "device.auto": ("automatic", "自动"),
    "device.cpu": ("CPU", "中央处理器（CPU）"),
    "device.cuda": ("GPU (CUDA)", "图形处理器（GPU，CUDA）"),
    "runs.col_run": ("run", "运行"),
    "runs.col_status": ("status", "状态"),
    "runs.col_template": ("template", "模板"),
    "runs.col_task": ("task", "任务"),
    "runs.col_method": ("method", "方法"),
    "runs.col_progress": ("steps", "步数"),
    "runs.col_best": ("best", "最佳"),
    "runs.col_baseline": ("zero-shot", "零样本"),
    "runs.col_duration": ("duration", "用时"),
    "runs.col_created": ("created", "创建时间"),
    "runs.none_picked": ("Pick one or more runs first", "请先选择一个或多个运行"),
    "runs.resumed": ("{n} run(s) resumed", "已继续 {n} 个运行"),
    "runs.deleted": ("{n} run(s) deleted", "已删除 {n} 个运行"),
    "runs.open_failed": ("Could not open the run", "无法打开运行"),
    "runs.resume_failed": ("Could not resume", "无法继续运行"),
    "runs.delete_failed": ("Could not delete", "无法删除"),
}
