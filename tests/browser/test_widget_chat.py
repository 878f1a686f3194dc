"""The Chat section in a real browser against the running system: the pre-chat form and its phone
checks, no specialist online (and the request instead), a whole conversation with a specialist driven
over the specialists' WebSocket, a chat turned into a request, markup that stays text, and a dropped
connection that loses nothing the user typed.

Specialists are global in the chat service, not per hotel account: a test's specialist connects with
capacity 1 only inside that test (`specialist()` closes it), and the test with nobody online keeps
none connected.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import AsyncIterator

import httpx
from playwright.async_api import Locator, Page, WebSocketRoute, expect

from tests.browser.conftest import NewContext
from tests.browser.helpers import assert_no_serious_a11y, axe, screenshot
from tests.browser.widget import open_help, panel, section
from tests.support.chat import WsClient, available_agent
from tests.support.helpdesk_system import HelpdeskSystem

SPECIALIST = "Iryna Support"
HOSTILE = '<img src=x onerror="window.__xss=1"><b>bold</b>'


@contextlib.asynccontextmanager
async def specialist(system: HelpdeskSystem) -> AsyncIterator[WsClient]:
    """A specialist on the gateway, available for one chat, for the duration of the block."""
    token = system.token(role="agent", sub=f"agent-{uuid.uuid4().hex[:8]}", name=SPECIALIST)
    agent = await available_agent(f"{system.ws_url}/api/v1/chat/agent", token, capacity=1)
    try:
        yield agent
    finally:
        with contextlib.suppress(Exception):
            await agent.send(type="away")
        await agent.close()


async def start_chat(page: Page, question: str, *, phone: str = "+380 44 123 45 67") -> Locator:
    chat = await section(page, "Chat")
    await chat.get_by_role("combobox", name="Topic of your question").select_option("other")  # 24/7
    await chat.get_by_role("textbox", name="Contact phone").fill(phone)
    await chat.get_by_role("textbox", name="Your question, briefly").fill(question)
    await chat.get_by_role("button", name="Start chat").click()
    return chat


async def say(chat: Locator, text: str) -> None:
    await chat.get_by_role("textbox", name="Your message").fill(text)
    await chat.get_by_role("button", name="Send", exact=True).click()


def status(chat: Locator) -> Locator:
    return chat.locator(".chat-status")


def chat_log(chat: Locator) -> Locator:
    return chat.get_by_role("log", name="Chat messages")


async def test_with_no_specialist_online_the_chat_offers_a_request_prefilled_with_the_question(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    page, user = await open_help(new_context, helpdesk_system, lang="en")
    chat = await section(page, "Chat")
    await expect(chat.get_by_role("heading", name="Chat with support")).to_be_visible()
    await expect(
        chat.get_by_text("This chat is not saved anywhere. Closing the Help window ends it")
    ).to_be_visible()
    await expect(chat.get_by_role("textbox", name="Your name")).to_have_value(user.name)
    assert_no_serious_a11y(await axe(page, "otelms-help"))
    await screenshot(page, "chat-form-en")

    question = f"How do I reopen a closed shift? {uuid.uuid4().hex[:6]}"
    await start_chat(page, question)
    await expect(status(chat)).to_have_attribute("role", "status")
    await expect(status(chat)).to_contain_text(re.compile(r"Your place in the queue: \d+\."))
    await expect(status(chat)).to_contain_text("No specialist is available right now.")
    await expect(chat.get_by_text("Nobody can answer in the chat right now.")).to_be_visible()
    offer = chat.get_by_role("button", name="Create a request instead")
    await expect(offer).to_be_visible()
    assert_no_serious_a11y(await axe(page, "otelms-help"))
    await screenshot(page, "chat-no-specialist-en")

    await offer.click()
    await expect(page.get_by_role("tab", name="New request")).to_have_attribute("aria-selected", "true")
    form = page.get_by_role("tabpanel", name="New request")
    await expect(form.get_by_label("Short description")).to_have_value(question)
    assert page.errors == []  # type: ignore[attr-defined]


async def test_a_bad_phone_is_flagged_on_its_field_and_a_national_number_turns_international(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    page, _ = await open_help(new_context, helpdesk_system, lang="en")
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    chat = await start_chat(page, "The printer does not print invoices", phone="12-34")
    phone = chat.get_by_role("textbox", name="Contact phone")
    await expect(phone).to_have_attribute("aria-invalid", "true")
    await expect(phone).to_be_focused()
    error = chat.locator("#hd-chat-phone-error")
    await expect(error).to_contain_text("This does not look like a valid number")
    await expect(phone).to_have_attribute("aria-describedby", re.compile(r"\bhd-chat-phone-error\b"))
    await expect(chat.get_by_role("button", name="Start chat")).to_be_visible()
    await expect(chat.get_by_role("log")).to_have_count(0)
    assert not [url for url in sockets if "/api/v1/chat/user" in url]
    await screenshot(page, "chat-bad-phone-en")

    await phone.fill("067 123 45 67")
    await expect(phone).to_have_attribute("aria-invalid", "false")
    await phone.press("Tab")
    await expect(phone).to_have_value("+380 67 123 4567")
    await expect(error).to_have_count(0)


async def test_a_whole_conversation_with_a_specialist_ends_as_a_request(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    page, user = await open_help(new_context, helpdesk_system, lang="en")
    question = f"Channel manager lost a booking {uuid.uuid4().hex[:6]}"
    chat = await start_chat(page, question)
    await expect(status(chat)).to_contain_text(re.compile(r"Your place in the queue: \d+\."))
    async with specialist(helpdesk_system) as agent:
        assigned = await agent.expect("chat_assigned", timeout=10)
        sid = assigned["session"]
        assert (assigned["question"], assigned["account_id"]) == (question, user.account)
        assert assigned["name"] == user.name
        await expect(status(chat)).to_contain_text(f"You are chatting with {SPECIALIST}.")

        await say(chat, "Booking 4711 vanished after the sync")
        got = await agent.expect("message", session=sid)
        assert got["text"] == "Booking 4711 vanished after the sync"
        log = chat_log(chat)
        mine = log.locator("li").filter(has_text="Booking 4711")
        await expect(mine).to_contain_text("You")

        await agent.send(type="message", session=sid, text="Let me check the channel log.")
        theirs = log.locator("li").filter(has_text="Let me check the channel log.")
        await expect(theirs).to_contain_text(SPECIALIST)
        await agent.send(type="typing", session=sid)
        await expect(chat.get_by_text(f"{SPECIALIST} is typing…")).to_be_visible()

        await agent.send(type="message", session=sid, text=f"Found it: {HOSTILE}")
        await expect(log).to_contain_text(f"Found it: {HOSTILE}")
        await expect(chat.get_by_text(f"{SPECIALIST} is typing…")).to_have_count(0)
        assert await log.locator("img, b").count() == 0
        assert await page.evaluate("() => window.__xss") is None
        await screenshot(page, "chat-conversation-en")

        await chat.get_by_role("button", name="Turn this chat into a request").click()
        done = chat.get_by_text(re.compile(r"Request No\. \S+ has been created from this chat\."))
        await expect(done).to_be_visible(timeout=15_000)
        match = re.search(r"No\. (\S+) has been", await done.inner_text())
        assert match is not None
        number = match.group(1)
        await expect(chat.get_by_role("button", name="Open request history")).to_be_visible()
        await expect(chat.get_by_role("button", name="Turn this chat into a request")).to_have_count(0)
        await chat.get_by_role("button", name="End chat").scroll_into_view_if_needed()
        await screenshot(page, "chat-request-created-en")
        headers = {"Authorization": f"Bearer {user.token}"}
        async with httpx.AsyncClient(base_url=helpdesk_system.url, headers=headers, timeout=10) as http:
            answer = await http.get("/api/v1/tickets")
        assert answer.status_code == 200, answer.text
        created = [t for t in answer.json()["items"] if t["number"] == number]
        assert len(created) == 1, answer.json()
        assert created[0]["topic"] == "chat"

        await page.get_by_role("button", name="Close help").click()
        await expect(panel(page)).to_be_hidden()
        gone = await agent.expect("user_left", timeout=5, session=sid)
        assert gone["session"] == sid
    assert page.errors == []  # type: ignore[attr-defined]


async def test_a_line_cut_off_before_its_confirmation_is_said_to_be_unconfirmed_and_can_be_sent_again(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    page, _ = await open_help(new_context, helpdesk_system, lang="en")
    live: list[tuple[WebSocketRoute, WebSocketRoute]] = []
    hold = {"answers": False}

    def through(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def to_page(message: str | bytes) -> None:
            if not hold["answers"]:
                ws.send(message)

        server.on_message(to_page)
        live.append((ws, server))

    await page.route_web_socket(re.compile(r"/api/v1/chat/user"), through)
    async with specialist(helpdesk_system) as agent:
        chat = await start_chat(page, f"Night audit {uuid.uuid4().hex[:6]}")
        first = (await agent.expect("chat_assigned", timeout=10))["session"]
        await expect(status(chat)).to_contain_text(f"You are chatting with {SPECIALIST}.")

        hold["answers"] = True  # the server's answers (the pong that confirms a line) are lost on the way
        typed = "Is the night audit finished?"
        await say(chat, typed)
        assert (await agent.expect("message", session=first))["text"] == typed  # the line did arrive
        line = chat_log(chat).locator("li").filter(has_text=typed)
        await expect(line).to_have_class(re.compile(r"\bsending\b"))
        to_page, to_server = live[-1]
        hold["answers"] = False
        await to_server.close()
        await to_page.close()
        # The page cannot know whether it arrived: it says so, instead of a "Not sent" that is untrue here.
        await expect(line).to_contain_text("Not confirmed: support may not have received it")
        await expect(line).not_to_contain_text("Not sent")
        await agent.expect("user_left", timeout=10, session=first)
        second = (await agent.expect("chat_assigned", timeout=20))["session"]
        assert second != first
        await expect(status(chat)).to_contain_text(f"You are chatting with {SPECIALIST}.")
        await expect(line.get_by_role("button", name="Send again")).to_be_visible()
        await screenshot(page, "chat-line-unconfirmed-en")

        await line.get_by_role("button", name="Send again").click()
        assert (await agent.expect("message", timeout=10, session=second))["text"] == typed
        again = chat_log(chat).locator("li").filter(has_text=typed)
        await expect(again).to_have_count(1)
        await expect(again).to_have_class(re.compile(r"\bsent\b"))
        await expect(again).not_to_contain_text("Not confirmed")
        await chat.get_by_role("button", name="End chat").click()
        await expect(status(chat)).to_contain_text("You have ended the chat.")
    assert page.errors == []  # type: ignore[attr-defined]


async def test_a_message_typed_while_the_connection_is_down_reaches_the_specialist_afterwards(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    page, _ = await open_help(new_context, helpdesk_system, lang="en")
    live: list[tuple[WebSocketRoute, WebSocketRoute]] = []
    blocked = {"now": False, "refused": 0}

    async def through_or_refused(ws: WebSocketRoute) -> None:
        if blocked["now"]:
            blocked["refused"] += 1
            await ws.close()  # the network is still down: the retry fails
            return
        live.append((ws, ws.connect_to_server()))

    await page.route_web_socket(re.compile(r"/api/v1/chat/user"), through_or_refused)
    async with specialist(helpdesk_system) as agent:
        question = f"Night audit stuck at 80% {uuid.uuid4().hex[:6]}"
        chat = await start_chat(page, question)
        first = (await agent.expect("chat_assigned", timeout=10))["session"]
        await expect(status(chat)).to_contain_text(f"You are chatting with {SPECIALIST}.")
        await say(chat, "It has been stuck for an hour")
        assert (await agent.expect("message", session=first))["text"] == "It has been stuck for an hour"
        # Confirmed on the page too (by the pong after it) before the network goes: a line cut off
        # before its confirmation is shown as unconfirmed, which is another case (the test above).
        earlier = chat_log(chat).locator("li").filter(has_text="It has been stuck for an hour")
        await expect(earlier).to_have_class(re.compile(r"\bsent\b"))

        blocked["now"] = True
        to_page, to_server = live[-1]
        await to_server.close()
        await to_page.close()
        await expect(status(chat)).to_contain_text("Connection lost. Reconnecting…")
        await agent.expect("user_left", timeout=10, session=first)

        typed = "Still stuck, any news?"
        await say(chat, typed)
        line = chat_log(chat).locator("li").filter(has_text=typed)
        await expect(line).to_contain_text("Will be sent when a specialist joins")
        await expect(line).not_to_contain_text("Not sent")
        await screenshot(page, "chat-reconnecting-queued-en")

        for _ in range(50):  # the widget's first retry (within ~1 s) finds the connection still down
            if blocked["refused"]:
                break
            await page.wait_for_timeout(100)
        assert blocked["refused"] >= 1
        await expect(line).to_contain_text("Will be sent when a specialist joins")
        blocked["now"] = False
        again = await agent.expect("chat_assigned", timeout=20)
        second = again["session"]
        assert second != first and again["question"] == question
        delivered = await agent.expect("message", timeout=10, session=second)
        assert delivered["text"] == typed
        await expect(status(chat)).to_contain_text(f"You are chatting with {SPECIALIST}.")
        await expect(status(chat)).to_contain_text("sees your question, but not the earlier messages")
        await expect(line).not_to_contain_text("Will be sent when a specialist joins")
        await expect(chat_log(chat).get_by_text("Not sent")).to_have_count(0)
        await screenshot(page, "chat-reconnected-en")
        await chat.get_by_role("button", name="End chat").click()
        await expect(status(chat)).to_contain_text("You have ended the chat.")
        await agent.expect("user_left", timeout=5, session=second)
    assert page.errors == []  # type: ignore[attr-defined]
