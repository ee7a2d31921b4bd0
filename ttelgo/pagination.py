from rest_framework.pagination import CursorPagination, PageNumberPagination


class StandardPagination(PageNumberPagination):
    """`{count, next, previous, results}`; `?page_size=` up to 100 (API.md)."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class StatementCursorPagination(CursorPagination):
    """Cursor pages for long, append-only lists (ledger statements)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = "-id"
