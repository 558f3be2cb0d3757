"""Message ids of the sandbox SMSC: unique across SMSC processes, as a real SMSC's are.

Several ``tocsin serve --demo`` nodes on one PostgreSQL each run their own sandbox
SMSC under the one channel name ``sms``; the message ledger keys receipts by (channel,
message id). Ids that every sandbox counted from 1 mapped one node's receipts onto
another node's recipients (and made the nodes' writers wait on each other's rows).
"""

from channels.mock.smsc import SmscState


def test_two_sandbox_smscs_never_hand_out_the_same_message_id() -> None:
    first, second = SmscState(), SmscState()
    ids_first = {first.next_message_id() for _ in range(1000)}
    ids_second = {second.next_message_id() for _ in range(1000)}
    assert len(ids_first) == len(ids_second) == 1000
    assert not ids_first & ids_second


def test_a_message_id_fits_smpp_submit_sm_resp() -> None:
    """SMPP 3.4 §4.4.2: message_id is a C-octet string of at most 65 octets."""
    message_id = SmscState().next_message_id()
    assert message_id.isascii()
    assert 0 < len(message_id) <= 64
