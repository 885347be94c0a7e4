"""Hard prompts: the Template values, the Jinja sandbox, rendering and validation, YAML files, PromptSource import.
Imports neither torch nor gradio."""
