"""`translator serve`: an HTTP translation service (Starlette on uvicorn) with request batching and a web page.

models.py   the model folders served, by name and language pair, and what their cards say
batching.py concurrent requests gathered into one call of the compiled search
app.py      the routes, request checking and JSON errors; `serve` runs it
page/       the web page at /, with no external resources
"""
