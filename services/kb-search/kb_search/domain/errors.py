"""Errors of the knowledge-base domain; the HTTP layer maps them onto the shared error shape."""

from __future__ import annotations


class KbError(Exception):
    """Base of the knowledge base's domain errors."""


class InvalidArticle(KbError):
    """Raised when an article's fields break a rule (unknown language or section, empty title, …)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class ArticleNotFound(KbError):
    """Raised when no live article has this id (never published, or retired)."""

    def __init__(self, article_id: str) -> None:
        self.article_id = article_id
        super().__init__(f"no article {article_id!r}")


class ArticleAlreadyPublished(KbError):
    """Raised when publishing a new article under an id that is live with other content."""

    def __init__(self, article_id: str) -> None:
        self.article_id = article_id
        super().__init__(f"article {article_id!r} is already published; update it instead")


class VersionConflict(KbError):
    """Raised when the article changed since the version the writer saw."""

    def __init__(self, article_id: str, *, expected: int | None, actual: int | None) -> None:
        self.article_id = article_id
        self.expected = expected
        self.actual = actual
        super().__init__(f"article {article_id!r} is at version {actual}, not {expected}")


class InvalidSection(KbError):
    """Raised when a section's fields break a rule (id not a slug, a name missing, order out of range)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class SectionNotFound(KbError):
    """Raised when no live section has this id (never created, or retired)."""

    def __init__(self, section_id: str) -> None:
        self.section_id = section_id
        super().__init__(f"no section {section_id!r}")


class UnknownSection(KbError):
    """Raised when an article names a section that is not live (an import creates it instead)."""

    def __init__(self, section_id: str) -> None:
        self.section_id = section_id
        super().__init__(f"section {section_id!r} does not exist or is retired")


class SectionAlreadyExists(KbError):
    """Raised when creating a section under an id that is live with other names or order."""

    def __init__(self, section_id: str) -> None:
        self.section_id = section_id
        super().__init__(f"section {section_id!r} already exists; update it instead")


class SectionVersionConflict(VersionConflict):
    """Raised when the section changed since the version the editor saw."""

    def __init__(self, section_id: str, *, expected: int | None, actual: int | None) -> None:
        super().__init__(section_id, expected=expected, actual=actual)
        self.args = (f"section {section_id!r} is at version {actual}, not {expected}",)

    def __str__(self) -> str:
        return str(self.args[0])
