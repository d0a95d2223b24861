"""Sample texts shared by the tokenizer tests: English, punctuation, Spanish with accents."""

TEXTS = [
    "First Citizen:\nBefore we proceed any further, hear me speak.",
    "All:\nSpeak, speak.",
    "You are all resolved rather to die than to famish?",
    "¿Dónde está la biblioteca? ÉL dijo: «sí».",
]
