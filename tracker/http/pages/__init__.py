"""Server-rendered pages for physicians and organisers (Jinja2, no front-end build step)."""
