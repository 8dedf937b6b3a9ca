"""Chromium loads of `render: browser` pages: what each page loaded, its rendered DOM, a screenshot of that load."""
