"""Stock clips and photos from Pexels (https://www.pexels.com/api/), free with an API key.

The key goes in the Authorization header, as it is. Pexels asks that its
media be credited: each scene's Credit names the videographer or
photographer and links to the media's page on Pexels.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from pydantic_settings import SettingsConfigDict

from aura.providers.images.base import Credit
from aura.providers.images.stock import (
    Hit,
    Kind,
    Rendition,
    StockClient,
    StockProvider,
    StockProviderSettings,
    covers,
    orientation,
    read_hits,
)

PER_PAGE = 15  # a few spares per query: scenes that share a query take different media


class PexelsSettings(StockProviderSettings):
    """AURA_PEXELS_API_KEY, AURA_PEXELS_URL, AURA_PEXELS_MEDIA (videos, photos or both)."""

    model_config = SettingsConfigDict(env_prefix="AURA_PEXELS_")

    url: str = "https://api.pexels.com"


class PexelsProvider(StockProvider):
    name = "pexels"
    settings_class = PexelsSettings
    signup_url = "https://www.pexels.com/api/"
    license = "Pexels License (https://www.pexels.com/license/)"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": self.api_key}

    def hits(self, client: StockClient, kind: Kind, query: str, size: tuple[int, int]) -> list[Hit]:
        params = {"query": query, "orientation": orientation(size), "per_page": PER_PAGE}
        if kind == "clip":
            answer = client.search(f"{self.url}/videos/search", params)
            return read_hits(answer.get("videos"), self._video)
        answer = client.search(f"{self.url}/v1/search", params)
        return read_hits(answer.get("photos"), lambda photo: self._photo(photo, size))

    def _video(self, video: dict[str, Any]) -> Hit:
        files = tuple(
            Rendition(url=f["link"], width=int(f["width"]), height=int(f["height"]))
            for f in video.get("video_files") or []
            if f.get("file_type") == "video/mp4" and f.get("link") and f.get("width") and f.get("height")
        )  # HLS playlists and files without a size are of no use to the compositor
        user = video.get("user") or {}
        return Hit(
            kind="clip",
            media_id=str(video["id"]),
            width=int(video.get("width") or 0),
            height=int(video.get("height") or 0),
            duration=float(video.get("duration") or 0),
            renditions=files,
            credit=self._credit(video, user.get("name", ""), user.get("url", "")),
        )

    def _photo(self, photo: dict[str, Any], size: tuple[int, int]) -> Hit:
        width, height = int(photo["width"]), int(photo["height"])
        original = Rendition(url=photo["src"]["original"], width=width, height=height)
        renditions = [original]
        if covers(original, size):  # Pexels crops and scales the original to the frame itself
            crop = urlencode({"auto": "compress", "cs": "tinysrgb", "fit": "crop", "w": size[0], "h": size[1]})
            joiner = "&" if "?" in original.url else "?"
            renditions.append(Rendition(url=f"{original.url}{joiner}{crop}", width=size[0], height=size[1]))
        return Hit(
            kind="still",
            media_id=str(photo["id"]),
            width=width,
            height=height,
            renditions=tuple(renditions),
            credit=self._credit(photo, photo.get("photographer", ""), photo.get("photographer_url", "")),
        )

    def _credit(self, media: dict[str, Any], author: str, author_url: str) -> Credit:
        return Credit(
            provider=self.name,
            media_id=str(media["id"]),
            page_url=media.get("url", ""),
            author=author,
            author_url=author_url,
            license=self.license,
        )
