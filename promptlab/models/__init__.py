"""Language models: the registry of model sources, the LM interface and its packed scoring path, and the web
app's model process."""
