"""Crawling: Scrapy settings, items, middlewares, pipelines, the writer process, progress and the runner."""
