"""One module per tab: layout and thin handlers. A tab imports no other tab."""
