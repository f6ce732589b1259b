"""Writes redaction_samples.jsonl: labelled sentences with FAKE personal data (names, numbers and
addresses are invented; card numbers are public test numbers; IBANs are the standard examples).

Labels are character offsets produced by construction, so they are exact. Re-run to regenerate:
    python tests/data/make_redaction_samples.py
"""
from __future__ import annotations

import json
import random
import re
from pathlib import Path

NAMES = [
    "Marcus Okonkwo-Lee", "Ingrid Halvorsen", "Greta Vandersloot", "Priya Raghunathan", "Tomasz Wisniewski",
    "Aoife Brennan", "Kwame Mensah", "Lucia Fernandez", "Hiroshi Tanaka", "Fatima Al-Sayed", "Jonas Lindqvist",
    "Olga Petrova", "David Miller", "Sarah Johnson", "Emeka Nwosu", "Sofia Rossi", "Mateo Alvarez",
    "Anneliese Brandt", "Rahul Mehta", "Isabelle Dubois", "Oluwaseun Adeyemi", "Henrik Sorensen", "Maya Goldberg",
    "Ahmed Haddad", "Camille Laurent", "Bartholomew Finch", "Zainab Bello", "Erik Johansson", "Keiko Yamamoto",
    "Niamh Gallagher", "Pieter de Vries", "Ana Vasquez-Moreau", "Samuel Osei", "Leila Fairweather", "Chloe Albrecht",
]
CITIES = ["Berlin", "Munich", "Lisbon", "Dublin", "Toronto", "Lagos", "Nairobi", "Osaka", "Krakow", "Rotterdam",
          "Austin", "Manchester", "Gothenburg", "Porto", "Bangalore", "Melbourne", "Chicago", "Madrid", "Vienna", "Seattle"]
COUNTRIES = ["Germany", "Portugal", "Kenya", "Japan", "Canada", "Ireland", "Poland", "Spain", "Austria", "Nigeria"]
PHONES = ["+1 212-555-0147", "(212) 555-0193", "212-555-0178", "+44 20 7946 0958", "+49 30 901820",
          "+1 (415) 555-0132", "555-0100", "+353 1 555 0142", "(646) 555-0119", "+1 312 555 0166"]
SSNS = ["512-38-4471", "078-05-1120", "219-09-9999", "536-22-1345", "401-77-2201", "623-44-8810"]
CARDS = ["4111 1111 1111 1111", "5555 5555 5555 4444", "4012-8888-8888-1881", "378282246310005",
         "6011 1111 1111 1117", "5105105105105100"]
IBANS = ["GB82WEST12345698765432", "DE89370400440532013000", "FR1420041010050500013M02606",
         "NL91ABNA0417164300", "ES9121000418450200051332", "GB82 WEST 1234 5698 7654 32"]
IPS = ["10.24.8.17", "192.168.1.254", "172.16.40.3", "203.0.113.45", "198.51.100.7", "10.0.0.12", "2001:db8::1"]
CASES = ["RELOC-2024-017", "GRV-2023-0042", "DISC-2024-113", "LEG-2025-0007"]
EIDS = ["NW-10482", "NW-204117", "NW-33901", "NW-500128", "NW-71235", "NW-880042"]

# {P}/{Q}: full names, {F}: a first name, {L}: a last name, {C}/{D}: cities, {K}: a country,
# {E}: e-mail, {PH}: phone, {S}: SSN, {CC}: card, {IB}: IBAN, {IP}: IP address, {EID}: employee id, {CASE}: internal case id.
TEMPLATES = [
    "{P} joined the Platform team in March as a senior data engineer.",
    "Please forward the signed contract to {P} before Friday.",
    "The grievance raised by {P} was reviewed by {Q} last week.",
    "Dear {F}, thank you for your application to the analytics team.",
    "Meeting notes: {P} and {Q} agreed to postpone the rollout.",
    "Approved by: {P}",
    "cc: {P}, {Q}",
    "{P}'s performance review is scheduled for the second week of April.",
    "Ms. {L} confirmed the relocation allowance in writing.",
    "According to {P}, the nightly backup job failed twice.",
    "The on-call engineer this week is {P}.",
    "An exit interview was held with {P} on her last working day.",
    "Mr. {L} asked for his overtime hours to be corrected.",
    "{P} is relocating from {C} to {D} in June.",
    "Our data centre in {C} will be decommissioned next year.",
    "She travelled to {C}, {K} for the client workshop.",
    "The new hire will work from the {C} office.",
    "Contact {P} at {E} for details of the payment run.",
    "Send the corrected invoice to {E} by the end of the month.",
    "{F} can be reached at {PH} during the secondment.",
    "For urgent issues call the service desk on {PH}.",
    "Her mobile number, {PH}, is on the emergency contact sheet.",
    "US secondment payroll identifier: SSN {S}",
    "The social security number {S} was entered twice in the payroll system.",
    "The corporate card {CC} was cancelled after the audit.",
    "Card number {CC} belongs to the travel budget of {P}.",
    "Salary is paid to IBAN {IB} from next month.",
    "{P} asked us to change her bank account to {IB}.",
    "Traffic from {IP} was blocked by the perimeter firewall.",
    "The build agent at {IP} ran out of disk space.",
    "Employee ID: {EID}",
    "Staff member {EID} has not completed the security training.",
    "{P} (employee number {EID}) requested unpaid leave.",
    "The badge of {EID} was reported lost at the {C} site.",
    "Line manager {P} raised the issue with HR business partner {Q}.",
    "Dr. {L} signed the medical certificate for the leave request.",
    "Onboarding buddy for {F}: {Q}.",
    "The disciplinary hearing for {P} took place in the {C} office.",
    "Reimbursement for {P}: hotel in {C}, three nights.",
    "Please update the record of {P}: new address in {C}, {K}.",
    "Case reference {CASE} was closed after the hearing.",
    "The matter is tracked as {CASE} in the HR portal.",
]
NEGATIVES = [
    "The Q3 travel budget increased by 12 percent compared to last year.",
    "Deploy version 2.14.3 to staging on Monday after the change review.",
    "Open a ticket in Jira and post the link in the team channel on Slack.",
    "Parental leave is 16 weeks at full pay for every employee.",
    "Invoice 448213 totals 12,450.00 EUR and is due in 30 days.",
    "The Finance Committee meets quarterly to review the revolving credit facility.",
    "Kubernetes pods restarted 42 times during the incident window.",
    "All laptops must use full-disk encryption and a screen lock after five minutes.",
    "The expense policy allows economy class for flights under six hours.",
    "Backups are retained for 35 days and tested every quarter.",
    "The public API returns HTTP 429 when the rate limit of 600 requests per minute is exceeded.",
    "Annual leave requests must be approved by the line manager.",
    "The ingestion pipeline processes about 4,000 documents per hour.",
    "Use the VPN when connecting from a hotel or airport network.",
    "The postmortem identified a missing index as the root cause.",
    "Performance reviews take place twice a year, in April and October.",
    "The works council was informed in accordance with the company agreement.",
    "Vendor payments above 10,000 EUR need a second approver.",
    "The on-call rotation changes every Tuesday at 09:00.",
    "Security patches are applied within 14 days of release.",
    "Network segmentation separates the payment systems from the office network.",
    "The Employee Assistance Programme offers six free counselling sessions.",
    "Remote work is possible up to three days per week.",
    "The database failover was tested successfully in the last drill.",
    "Submit receipts within 60 days of the purchase.",
    "The revenue forecast assumes a churn rate of 4.5 percent.",
    "Training budgets are allocated per team, not per person.",
    "Incident severity levels range from SEV1 to SEV4.",
    "The code freeze starts two weeks before the release.",
    "Passwords must be at least 14 characters long.",
    "The Platform team owns the data warehouse and the ingestion service.",
    "Expense reports are processed in the monthly payment run.",
    "Customer Support answers tickets within one business day.",
    "Release notes are published in the public changelog.",
    "Grievances are handled confidentially by HR.",
]
TYPES = {"P": "PERSON", "Q": "PERSON", "F": "PERSON", "L": "PERSON", "C": "LOCATION", "D": "LOCATION", "K": "LOCATION",
         "E": "EMAIL_ADDRESS", "PH": "PHONE_NUMBER", "S": "US_SSN", "CC": "CREDIT_CARD", "IB": "IBAN_CODE",
         "IP": "IP_ADDRESS", "EID": "EMPLOYEE_ID", "CASE": "CASE_ID"}


def _values(rng: random.Random) -> dict[str, str]:
    p, q = rng.sample(NAMES, 2)
    c, d = rng.sample(CITIES, 2)
    first, last = p.split(" ", 1)
    email = f"{first.lower()}.{last.lower().replace(' ', '')}@example.com".replace("--", "-")
    return {"P": p, "Q": q, "F": first, "L": last.split(" ")[-1], "C": c, "D": d, "K": rng.choice(COUNTRIES), "E": email,
            "PH": rng.choice(PHONES), "S": rng.choice(SSNS), "CC": rng.choice(CARDS), "IB": rng.choice(IBANS),
            "IP": rng.choice(IPS), "EID": rng.choice(EIDS), "CASE": rng.choice(CASES)}


def render(template: str, values: dict[str, str]) -> dict:
    text, spans, cursor = "", [], 0
    for m in re.finditer(r"\{([A-Z]+)\}", template):
        text += template[cursor:m.start()]
        value = values[m.group(1)]
        spans.append({"type": TYPES[m.group(1)], "start": len(text), "end": len(text) + len(value)})
        text += value
        cursor = m.end()
    text += template[cursor:]
    return {"text": text, "spans": spans}


def main() -> None:
    rng = random.Random(20261123)
    samples = [render(t, _values(rng)) for t in TEMPLATES for _ in range(4)]
    samples += [{"text": t, "spans": []} for t in NEGATIVES]
    rng.shuffle(samples)
    out = Path(__file__).with_name("redaction_samples.jsonl")
    out.write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples))
    print(f"wrote {len(samples)} samples to {out}")


if __name__ == "__main__":
    main()
