"""The Scrapy side of the crawl benchmark: the same crawl of the sample web's job board as
patroli's `jobposting` source (listing pages, `a.job-link` detail pages, `rel=next` paging,
robots.txt obeyed, JobPosting JSON-LD parsed), writing items as JSON Lines.

Run by crawl_vs_scrapy.py: scrapy runspider scrapy_sample_web.py -a start=URL -O items.jsonl
"""
import json

import scrapy


class SampleWebSpider(scrapy.Spider):
    name = "sample_web"
    custom_settings = {
        "ROBOTSTXT_OBEY": True,
        "CONCURRENT_REQUESTS": 16,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "USER_AGENT": "patroli-bench-scrapy",
    }

    def __init__(self, start, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [start]

    def parse(self, response):
        for href in response.css("a.job-link::attr(href)").getall():
            yield response.follow(href, self.parse_job)
        for href in response.css("a[rel=next]::attr(href)").getall():
            yield response.follow(href, self.parse)

    def parse_job(self, response):
        for raw in response.css('script[type="application/ld+json"]::text').getall():
            try:
                data = json.loads(raw)
            except ValueError:
                continue
            if data.get("@type") == "JobPosting":
                yield {
                    "url": response.url,
                    "title": data.get("title"),
                    "description": data.get("description"),
                    "organization": (data.get("hiringOrganization") or {}).get("name"),
                    "posted": data.get("datePosted"),
                }
