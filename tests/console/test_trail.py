"""The console's reading of audit records (adapter/console/trail.py): which problems a call's page lists."""
from __future__ import annotations

from adapter.console import trail
from adapter.console.xmlview import lines, problem_elements

RECORD = {
    "wl1_request_problems": ["Crebonummer: 'abc' is not a valid value of its type"],
    "wl2": [{"operation": "IdentificeerLeerbedrijf", "response_problems": ["LeerbedrijfId: too long"]}],
    "wl1_response_problems": ["CodeLeerbedrijf: [facet 'maxLength'] the value has a length of '41'"],
}


def test_a_call_lists_the_problems_of_all_its_messages_the_answer_to_the_school_last():
    assert trail.problems_of(RECORD) == [
        "WL 1.0 request: Crebonummer: 'abc' is not a valid value of its type",
        "WL 2.0 IdentificeerLeerbedrijf answer: LeerbedrijfId: too long",
        "WL 1.0 answer: CodeLeerbedrijf: [facet 'maxLength'] the value has a length of '41'",
    ]
    assert trail.problems_of({"wl2": []}) == []  # a record written before the answer's problems were kept


def test_the_answer_to_the_school_has_its_problem_elements_marked():
    answer = "<tns:R><tns:CodeLeerbedrijf>" + "1" * 41 + "</tns:CodeLeerbedrijf><tns:Naam>x</tns:Naam></tns:R>"
    marked = [line.text for line in lines(answer, problem_elements(RECORD["wl1_response_problems"])) if line.marked]
    assert len(marked) == 1 and "CodeLeerbedrijf" in marked[0]
