"""Search for linking, address-to-contact matching, and contact deletion."""

from __future__ import annotations

from interactions.services import contacts, records
from web.api import api
from web.api.schemas import (
    AddressMatch,
    ContactMatchOut,
    MatchQuery,
    MatchResults,
    SearchQuery,
    SearchResultOut,
    SearchResults,
)
from web.context import actor, db


@api.operation(
    "GET",
    "/search",
    summary="Search-as-you-type for the records an interaction can link to",
    tag="records",
    query=SearchQuery,
    response=SearchResults,
    browser=True,
)
def search(query: SearchQuery) -> SearchResults:
    types = [
        records.parse_record_type(kind.strip(), "types")
        for kind in query.types.split(",")
        if kind.strip()
    ]
    found = records.search(db(), actor(), types, query.q)
    return SearchResults(
        results=[
            SearchResultOut(
                record_type=result.record_type.value,
                record_id=result.record_id,
                name=result.name,
                detail=result.detail,
            )
            for result in found
        ]
    )


@api.operation(
    "GET",
    "/contacts/match",
    summary="The contacts each email address belongs to, every candidate included",
    tag="records",
    query=MatchQuery,
    response=MatchResults,
)
def match(query: MatchQuery) -> MatchResults:
    found = contacts.match_contacts(db(), actor(), query.email)
    return MatchResults(
        matches=[
            AddressMatch(
                address=address,
                contacts=[ContactMatchOut.model_validate(c) for c in candidates],
            )
            for address, candidates in found.items()
        ]
    )


@api.operation(
    "DELETE",
    "/contacts/<int:contact_id>",
    summary="Delete a contact that has no interactions",
    tag="records",
    status=204,
    errors=(404, 409),
)
def delete_contact(contact_id: int) -> None:
    contacts.delete_contact(db(), actor(), contact_id)
