"""The console's Chats in a real browser against the running system, a hotel user in the Help widget
side by side: the queue, taking a chat, messages and typing both ways, a request offered and accepted,
the user leaving, the title while a chat waits, and nothing of a chat kept in the browser.

Specialists are global in the chat service, not per hotel account, and other browser tests connect
specialists too: the console's specialist here takes chats by hand only (automatic assignment off,
capacity 2) and signs out at the end of each test.
"""

from __future__ import annotations

import re
import uuid

from playwright.async_api import Locator, Page, expect

from tests.browser.conftest import NewContext
from tests.browser.console import open_console
from tests.browser.helpers import assert_no_serious_a11y, axe, screenshot
from tests.browser.widget import HotelUser, open_help, panel, section
from tests.support.helpdesk_system import HelpdeskSystem

SPECIALIST = "Marta Console"
PHONE = "+380 44 123 45 67"


async def console_online(new_context: NewContext, system: HelpdeskSystem) -> Page:
    """A specialist's console, Online for two chats at once, taking chats by hand only."""
    page = await open_console(new_context, system, name=SPECIALIST, sub=f"agent-{uuid.uuid4().hex[:8]}")
    presence = page.get_by_role("group", name="Chat availability")
    await presence.get_by_role("checkbox", name="Assign chats automatically").uncheck()
    await presence.get_by_role("combobox", name="Chats at once").select_option("2")
    await presence.get_by_role("combobox", name="Chat status").select_option("available")
    await expect(presence.get_by_role("combobox", name="Chat status")).to_have_value("available")
    await page.get_by_role("link", name=re.compile("^Chats")).click()
    await expect(page.get_by_role("heading", name="Chats", level=1)).to_be_visible()
    return page


async def start_chat(
    new_context: NewContext, system: HelpdeskSystem, question: str
) -> tuple[Page, HotelUser, Locator]:
    page, user = await open_help(new_context, system, lang="en")
    chat = await section(page, "Chat")
    await chat.get_by_role("combobox", name="Topic of your question").select_option("other")  # 24/7
    await chat.get_by_role("textbox", name="Contact phone").fill(PHONE)
    await chat.get_by_role("textbox", name="Your question, briefly").fill(question)
    await chat.get_by_role("button", name="Start chat").click()
    await expect(chat.locator(".chat-status")).to_contain_text(re.compile(r"Your place in the queue: \d+\."))
    return page, user, chat


def waiting(console: Page, question: str) -> Locator:
    queue = console.get_by_role("region", name=re.compile("^Waiting"))
    return queue.get_by_role("listitem").filter(has_text=question)


async def take(console: Page, user: HotelUser, question: str) -> Locator:
    entry = waiting(console, question)
    await expect(entry).to_contain_text(user.name)
    await entry.get_by_role("button", name="Take").click()
    conversation = console.get_by_role("region", name=user.name)
    await expect(conversation.get_by_role("log", name="Chat messages")).to_be_visible()
    return conversation


async def widget_say(chat: Locator, text: str) -> None:
    await chat.get_by_role("textbox", name="Your message").fill(text)
    await chat.get_by_role("button", name="Send", exact=True).click()


async def console_say(conversation: Locator, text: str) -> None:
    await conversation.get_by_role("textbox", name="Your reply").fill(text)
    await conversation.get_by_role("button", name="Send", exact=True).click()


async def sign_out(console: Page) -> None:
    await console.get_by_role("button", name="Sign out").click()
    await expect(console.get_by_role("navigation")).to_have_count(0)


async def test_a_chat_is_taken_from_the_queue_answered_both_ways_offered_as_a_request_and_left(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    console = await console_online(new_context, helpdesk_system)
    question = f"Channel manager lost a booking {uuid.uuid4().hex[:6]}"
    page, user, chat = await start_chat(new_context, helpdesk_system, question)

    entry = waiting(console, question)
    await expect(entry).to_contain_text(user.account)
    await expect(entry).to_contain_text(re.compile(r"waiting \d+:\d\d"))
    await expect(console.get_by_role("link", name=re.compile(r"^Chats")).locator(".count")).to_be_visible()
    await screenshot(console, "console-chat-queue")

    conversation = await take(console, user, question)
    await expect(waiting(console, question)).to_have_count(0)
    await expect(conversation).to_contain_text("+380441234567")
    await expect(conversation).to_contain_text(question)
    await expect(conversation).to_contain_text(user.account)
    await expect(chat.locator(".chat-status")).to_contain_text(f"You are chatting with {SPECIALIST}.")

    await widget_say(chat, "Booking 4711 vanished after the sync")
    log = conversation.get_by_role("log", name="Chat messages")
    await expect(log.get_by_role("listitem").filter(has_text="Booking 4711")).to_contain_text(user.name)

    await conversation.get_by_role("textbox", name="Your reply").fill("Let me check")
    await expect(chat.get_by_text(f"{SPECIALIST} is typing…")).to_be_visible()
    await conversation.get_by_role("button", name="Send", exact=True).click()
    theirs = chat.get_by_role("log", name="Chat messages").locator("li").filter(has_text="Let me check")
    await expect(theirs).to_contain_text(SPECIALIST)
    await expect(log.get_by_role("listitem").filter(has_text="Let me check")).not_to_contain_text("Sending")

    # Typing goes out at most every 2 s: keys over a few seconds show it whatever was sent before.
    await chat.get_by_role("textbox", name="Your message").press_sequentially("It was booking", delay=200)
    await expect(conversation.get_by_text(f"{user.name} is typing…")).to_be_visible()
    await chat.get_by_role("button", name="Send", exact=True).click()
    await expect(log).to_contain_text("It was booking")
    await expect(conversation.get_by_text(f"{user.name} is typing…")).to_have_count(0)

    await conversation.get_by_role("button", name="Offer to turn this chat into a request").click()
    await expect(conversation.get_by_text("Offered to the user.")).to_be_visible()
    await expect(chat.get_by_text(f"{SPECIALIST} suggests turning this chat into a request")).to_be_visible()
    await chat.get_by_role("button", name="Turn this chat into a request").click()
    done = chat.get_by_text(re.compile(r"Request No\. \S+ has been created from this chat\."))
    await expect(done).to_be_visible(timeout=15_000)
    number = re.search(r"No\. (\S+) has been", await done.inner_text())
    assert number is not None
    await expect(conversation.get_by_text(f"Request {number.group(1)} created.")).to_be_visible()
    await screenshot(console, "console-chat-conversation")

    await page.get_by_role("button", name="Close help").click()
    await expect(panel(page)).to_be_hidden()
    await expect(conversation.get_by_text(f"{user.name} has left the chat.")).to_be_visible()
    await expect(conversation.get_by_role("textbox", name="Your reply")).to_have_count(0)
    await sign_out(console)
    assert console.errors == []  # type: ignore[attr-defined]
    assert page.errors == []  # type: ignore[attr-defined]


async def test_the_console_keeps_nothing_of_a_chat_and_flags_a_waiting_chat_in_the_title(
    new_context: NewContext, helpdesk_system: HelpdeskSystem
) -> None:
    console = await console_online(new_context, helpdesk_system)
    title = await console.title()
    question = f"Night audit stuck at 80% {uuid.uuid4().hex[:6]}"
    _, user, chat = await start_chat(new_context, helpdesk_system, question)
    await expect(waiting(console, question)).to_be_visible()
    await expect(console).to_have_title(title)  # the queue is on screen

    await console.get_by_role("link", name=re.compile("^Requests")).click()
    await expect(console).to_have_title(f"(1) {title}")
    await console.get_by_role("link", name=re.compile("^Chats")).click()
    await expect(console).to_have_title(title)

    conversation = await take(console, user, question)
    secret = f"The night auditor's PIN is {uuid.uuid4().hex[:6]}"
    await widget_say(chat, secret)
    await expect(conversation.get_by_role("log", name="Chat messages")).to_contain_text(secret)
    await console_say(conversation, "Thanks, never share it again")
    await expect(chat.get_by_role("log", name="Chat messages")).to_contain_text("Thanks, never share")

    kept: dict[str, object] = await console.evaluate(
        """async () => ({
            local: JSON.stringify({ ...localStorage }),
            session: JSON.stringify({ ...sessionStorage }),
            workers: navigator.serviceWorker ? (await navigator.serviceWorker.getRegistrations()).length : 0,
            databases: indexedDB.databases ? (await indexedDB.databases()).length : 0,
        })"""
    )
    assert secret not in str(kept["local"]) and question not in str(kept["local"]), kept
    assert secret not in str(kept["session"]) and question not in str(kept["session"]), kept
    assert kept["workers"] == 0 and kept["databases"] == 0, kept
    assert_no_serious_a11y(await axe(console))

    await conversation.get_by_role("button", name="End chat").click()
    await expect(conversation.get_by_text("You ended the chat.")).to_be_visible()
    await expect(chat.locator(".chat-status")).to_contain_text("ended")
    await sign_out(console)
    assert console.errors == []  # type: ignore[attr-defined]
