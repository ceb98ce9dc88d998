"""Stock clips and photos from Pixabay (https://pixabay.com/api/docs/), free with an API key.

The key goes in the `key` query parameter (hidden from httpx's request log).
Pixabay asks that search answers be kept for 24 hours and that media be
downloaded rather than linked to: both are the stock cache's job. Its video
search takes no orientation, so clips of the other orientation are left out
here rather than cropped to a third of themselves.
"""

from __future__ import annotations

from typing import Any

from pydantic_settings import SettingsConfigDict

from aura.providers.images.base import Credit
from aura.providers.images.stock import (
    Hit,
    Kind,
    Rendition,
    StockClient,
    StockProvider,
    StockProviderSettings,
    orientation,
    read_hits,
)

PER_PAGE = 20  # the API takes 3 to 200
MAX_QUERY_CHARS = 100  # the API refuses a longer q
ORIENTATIONS = {"landscape": "horizontal", "portrait": "vertical", "square": "all"}
VIDEO_SIZES = ("large", "medium", "small", "tiny")
# photo URLs and the longest side Pixabay scales each to (the original when smaller)
PHOTO_SIZES = (("webformatURL", 640), ("largeImageURL", 1280), ("fullHDURL", 1920))


class PixabaySettings(StockProviderSettings):
    """AURA_PIXABAY_API_KEY, AURA_PIXABAY_URL, AURA_PIXABAY_MEDIA (videos, photos or both)."""

    model_config = SettingsConfigDict(env_prefix="AURA_PIXABAY_")

    url: str = "https://pixabay.com"


class PixabayProvider(StockProvider):
    name = "pixabay"
    settings_class = PixabaySettings
    signup_url = "https://pixabay.com/api/docs/"
    license = "Pixabay Content License (https://pixabay.com/service/license-summary/)"

    def auth_params(self) -> dict[str, str]:
        return {"key": self.api_key}

    def hits(self, client: StockClient, kind: Kind, query: str, size: tuple[int, int]) -> list[Hit]:
        params: dict[str, object] = {"q": short_query(query), "per_page": PER_PAGE, "safesearch": "true"}
        if kind == "clip":
            answer = client.search(f"{self.url}/api/videos/", params)
            return read_hits(answer.get("hits"), self._video)
        params |= {"image_type": "photo", "orientation": ORIENTATIONS[orientation(size)]}
        answer = client.search(f"{self.url}/api/", params)
        return read_hits(answer.get("hits"), self._photo)

    def _video(self, hit: dict[str, Any]) -> Hit:
        videos = hit.get("videos") or {}
        renditions = tuple(
            Rendition(url=file["url"], width=int(file["width"]), height=int(file["height"]), size=int(file.get("size") or 0))
            for file in (videos.get(name) for name in VIDEO_SIZES)
            if file and file.get("url") and file.get("width") and file.get("height")
        )  # a rendition Pixabay has not made has an empty url
        largest = max(renditions, key=lambda r: r.width * r.height)
        return Hit(
            kind="clip",
            media_id=str(hit["id"]),
            width=largest.width,
            height=largest.height,
            duration=float(hit.get("duration") or 0),
            renditions=renditions,
            credit=self._credit(hit),
        )

    def _photo(self, hit: dict[str, Any]) -> Hit:
        width, height = int(hit["imageWidth"]), int(hit["imageHeight"])
        renditions = []
        for field, longest in PHOTO_SIZES:
            if hit.get(field):
                scale = min(1.0, longest / max(width, height))
                renditions.append(Rendition(url=hit[field], width=round(width * scale), height=round(height * scale)))
        return Hit(
            kind="still",
            media_id=str(hit["id"]),
            width=width,
            height=height,
            renditions=tuple(renditions),
            credit=self._credit(hit),
        )

    def _credit(self, hit: dict[str, Any]) -> Credit:
        user, user_id = hit.get("user", ""), hit.get("user_id", "")
        return Credit(
            provider=self.name,
            media_id=str(hit["id"]),
            page_url=hit.get("pageURL", ""),
            author=user,
            author_url=f"https://pixabay.com/users/{user}-{user_id}/" if user and user_id else "",
            license=self.license,
        )


def short_query(query: str) -> str:
    """At most MAX_QUERY_CHARS, cut between words."""
    if len(query) <= MAX_QUERY_CHARS:
        return query
    return query[: MAX_QUERY_CHARS + 1].rsplit(" ", 1)[0][:MAX_QUERY_CHARS]
