"""Messages of models: finding and loading them and their adapters, scoring with them, and the shared model's
limits."""

MESSAGES: dict[str, tuple[str, str]] = {
    "family.causal": ("decoder-only (causal LM)", "仅解码器（因果语言模型）"),
    "family.seq2seq": ("encoder-decoder (seq2seq LM)", "编码器-解码器（seq2seq 语言模型）"),
    "family.masked": ("masked LM (cloze)", "掩码语言模型（完形填空）"),
    "model.not_a_language_model": ("{model} (model type {model_type}) is not a language model PromptLab can score: it "
                                   "is neither decoder-only (e.g. Llama, SmolLM2), encoder-decoder (e.g. T5) nor a "
                                   "masked LM with its MLM head (e.g. BERT). Pick a model of one of those families.",
                                   "{model}（模型类型 {model_type}）不是 PromptLab 能评分的语言模型：它既不是仅解码器模型"
                                   "（如 Llama、SmolLM2），也不是编码器-解码器模型（如 T5），也不是带 MLM 头的掩码语言模型"
                                   "（如 BERT）。请选择这几类中的模型。"),
    "model.config_unreadable": ("Cannot read {model}'s config.json ({detail}).", "无法读取 {model} 的 config.json（{detail}）。"),
    "model.config_not_object": ("{model}'s config.json is not a JSON object.", "{model} 的 config.json 不是 JSON 对象。"),
    "model.unknown_dtype": ("Unknown dtype {dtype}. Use one of: auto, fp32, bf16, fp16.",
                            "未知的数据类型 {dtype}。请使用以下之一：auto、fp32、bf16、fp16。"),
    "model.no_lm_head": ("{model} lacks weights a {family} needs ({missing}): it was saved without its language-model "
                         "head (a bare encoder, or a model fine-tuned for classification). Use a checkpoint with its LM "
                         "head, e.g. {example}.",
                         "{model} 缺少{family}所需的权重（{missing}）：它保存时没有语言模型头（只有编码器，或是为分类"
                         "微调的模型）。请使用带语言模型头的检查点，例如 {example}。"),
    "model.remote_code": ("Model {model} needs its own Python code to load (config.json has auto_map and model type "
                          "{model_type}, which transformers does not know). PromptLab never runs code shipped with a "
                          "model (trust_remote_code stays off). Use a model that transformers supports natively, e.g. "
                          "{default}, or a local folder of one.",
                          "模型 {model} 需要运行它自带的 Python 代码才能加载（config.json 中有 auto_map，模型类型 "
                          "{model_type} 不被 transformers 识别）。PromptLab 从不运行模型自带的代码（trust_remote_code "
                          "始终关闭）。请使用 transformers 原生支持的模型，例如 {default}，或这类模型的本地文件夹。"),
    "model.no_adapter": ("No PEFT adapter at {adapter}: adapter_config.json is missing. Pass a run's adapter/ folder.",
                         "{adapter} 处没有 PEFT 适配器：缺少 adapter_config.json。请给出某次运行的 adapter/ 文件夹。"),
    "model.another_base": ("another base model (adapter_config.json does not name it)",
                           "另一个基础模型（adapter_config.json 中没有写明）"),
    "model.adapter_misfit": ("The adapter at {adapter} does not fit model {model}: it was trained on {base}. Load it "
                             "with that base model (--model). Details: {detail}",
                             "{adapter} 处的适配器与模型 {model} 不匹配：它是在 {base} 上训练的。请用那个基础模型加载它"
                             "（--model）。详情：{detail}"),
    "model.masked_cannot_generate": ("Model {model} is a masked LM: it fills a mask slot but cannot generate text. Use "
                                     "a template with answer choices and a {{{{ mask }}}} slot, or a decoder-only or "
                                     "encoder-decoder model for generation.",
                                     "模型 {model} 是掩码语言模型：它能填充掩码位置，但不能生成文本。请使用带候选答案和 "
                                     "{{{{ mask }}}} 位置的模板，或用仅解码器、编码器-解码器模型来生成。"),
    "model.no_chat_template": ("Model {model} has no chat template. Turn off 'chat' in the template.",
                               "模型 {model} 没有聊天模板。请在模板中关闭“聊天模板”。"),
    "model.over_budget": ("Model {model} needs about {needed} MB for its weights, more than this server's model memory "
                          "budget of {budget} MB (PROMPTLAB_MODEL_MEMORY_MB). Pick a smaller model, or raise the "
                          "budget where the memory is there.",
                          "模型 {model} 的权重约需 {needed} MB，超过此服务器的模型内存上限 {budget} MB"
                          "（PROMPTLAB_MODEL_MEMORY_MB）。请选择较小的模型，或在内存充足时提高上限。"),
    "model.unknown_call": ("Unknown model call {method}; expected one of {methods}.",
                           "未知的模型调用 {method}；应为以下之一：{methods}。"),
    "model.no_mask_token": ("This tokenizer has no mask token, so the model cannot fill a {{{{ mask }}}} slot.",
                            "该分词器没有掩码 token，因此模型无法填充 {{{{ mask }}}} 位置。"),
    "model.empty_label_word": ("The label word {word} tokenizes to nothing in its slot. Use a non-empty answer choice.",
                               "标签词 {word} 在其位置上分词后为空。请使用非空的候选答案。"),
    "model.long_label_word": ("The label word {word} is {n} tokens long, more than the model's {limit} positions hold. "
                              "Use a shorter answer choice.",
                              "标签词 {word} 长 {n} 个 token，超过模型的 {limit} 个位置。请使用更短的候选答案。"),
    "model.no_mask_slot": ("A masked LM scores the answer at one mask slot, but this prompt has none: write "
                           "{{{{ mask }}}} where the label word goes, e.g. '{{{{ sentence }}}} It was {{{{ mask }}}}.'.",
                           "掩码语言模型在一个掩码位置上为答案打分，但这个提示中没有：请在标签词的位置写 {{{{ mask }}}}，"
                           "例如 '{{{{ sentence }}}} It was {{{{ mask }}}}.'。"),
    "model.mask_slots": ("A masked LM scores the answer at one mask slot, but this prompt has {n}: {mask} appears {n} "
                         "times (the template's {{{{ mask }}}} once, the rest in the row's text or the template). Keep "
                         "one {{{{ mask }}}} and remove {mask} from the data.",
                         "掩码语言模型在一个掩码位置上为答案打分，但这个提示中有 {n} 个：{mask} 出现了 {n} 次（模板的 "
                         "{{{{ mask }}}} 一次，其余在数据行的文本或模板中）。请只保留一个 {{{{ mask }}}}，并从数据中删除 "
                         "{mask}。"),
    "model.empty_continuation": ("The continuation {continuation} tokenizes to nothing after its context. Use a "
                                 "non-empty answer choice or target.",
                                 "续写内容 {continuation} 在上下文之后分词为空。请使用非空的候选答案或目标。"),
    "model.empty_answer": ("The continuation {continuation} is empty. Use a non-empty answer choice or target.",
                           "续写内容 {continuation} 为空。请使用非空的候选答案或目标。"),
    "model.peft_method": ("PEFT method {method} is not supported: PromptLab scores {methods}.",
                          "不支持 PEFT 方法 {method}：PromptLab 支持 {methods}。"),
    "model.killed": ("killed, most likely for lack of memory", "被终止，很可能是内存不足"),
    "model.exit_code": ("exit code {code}", "退出码 {code}"),
    "model.process_stopped": ("The model process stopped while scoring ({why}). Nothing was lost; the next request "
                              "starts it again. If it keeps stopping, score fewer rows or shots, or use a smaller "
                              "model.",
                              "模型进程在评分时停止了（{why}）。没有丢失任何内容；下一个请求会重新启动它。如果它反复停止，"
                              "请减少评测行数或示例数，或使用更小的模型。"),
    "model.offline": ("Model {model} is not available offline (no local folder of that name, not in the local "
                      "Hugging Face cache, and the Hub is unreachable).",
                      "模型 {model} 离线不可用（本地没有同名文件夹，本地 Hugging Face 缓存中也没有，且无法连接 Hub）。"),
    "model.hub_config": ("Could not read model {model}'s config.json from the Hugging Face Hub: {detail}",
                         "无法从 Hugging Face Hub 读取模型 {model} 的 config.json：{detail}"),
    "model.folder_without_config": ("{path} is a folder but not a Hugging Face model: config.json is missing.",
                                    "{path} 是文件夹，但不是 Hugging Face 模型：缺少 config.json。"),
    "model.no_folder": ("No model folder at {path}. Pass a folder with config.json, a hub id, or one of: {bundled}.",
                        "{path} 处没有模型文件夹。请给出含 config.json 的文件夹、Hub ID，或以下之一：{bundled}。"),
    "model.not_installed": ("Model {model} is not installed. Install it with: {hint}",
                            "模型 {model} 尚未安装。安装命令：{hint}"),
    "model.tried": ("tried: a local folder named {model} (none), the local Hugging Face cache (not there)",
                    "已尝试：名为 {model} 的本地文件夹（没有）、本地 Hugging Face 缓存（没有）"),
    "model.not_available_offline": ("Model {model} is not available offline ({tried}, the Hugging Face Hub "
                                    "(unreachable)). Use a bundled model ({bundled}) or a local folder with "
                                    "config.json.",
                                    "模型 {model} 离线不可用（{tried}、Hugging Face Hub（无法连接））。请使用内置模型"
                                    "（{bundled}）或含 config.json 的本地文件夹。"),
    "model.download_failed": ("Could not download model {model} from the Hugging Face Hub ({tried}): {detail}",
                              "无法从 Hugging Face Hub 下载模型 {model}（{tried}）：{detail}"),
    "model.no_safetensors": ("Model {model} has no safetensors weights on the Hugging Face Hub (only PyTorch .bin "
                             "files, perhaps: pickles, which can run code, so PromptLab does not fetch them). Pick a "
                             "model that ships model.safetensors, or convert this one and use its local folder.",
                             "模型 {model} 在 Hugging Face Hub 上没有 safetensors 权重（可能只有 PyTorch .bin 文件："
                             "它们是 pickle，加载时可能执行代码，所以 PromptLab 不会下载）。请选择提供 "
                             "model.safetensors 的模型，或先转换此模型再使用其本地文件夹。"),
    "model.cancelled": ("Stopped, as you asked. Nothing else was affected; start it again whenever you like.",
                        "已按您的要求停止。其他内容不受影响；随时可以重新开始。"),
    "model.budget_exceeded": ("This request used its {seconds} s share of the model, which this server shares among "
                              "all its visitors. Score fewer rows, shots, seeds or prompts at a time; on your own "
                              "machine (PROMPTLAB_REQUEST_SECONDS=0) there is no limit.",
                              "本次请求已用完它的 {seconds} 秒模型时间份额（此服务器的模型由所有访问者共享）。请一次评测"
                              "更少的行、示例、种子或提示；在您自己的机器上（PROMPTLAB_REQUEST_SECONDS=0）没有这个限制。"),
}
