"""Text from archived payloads: HTML pages, PDFs, scans and office documents."""
