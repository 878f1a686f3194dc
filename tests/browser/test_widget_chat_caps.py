"""The Chat section when the user already has as many chats open as allowed (in other tabs): the
widget says so in the user's language instead of waiting forever, and offers a request instead."""

from __future__ import annotations

import contextlib

import pytest
from playwright.async_api import expect

from tests.browser.conftest import NewContext
from tests.browser.helpers import screenshot
from tests.browser.widget import new_hotel_user, open_help, section
from tests.support.chat import PHONE, WsClient
from tests.support.helpdesk_system import HelpdeskSystem

# The system runs with the default caps: two chats a user.
OPEN_ELSEWHERE = 2
# Section, phone, question, start button, and the refusal, as the widget words them.
WORDS = {
    "en": (
        "Chat",
        "Contact phone",
        "Your question, briefly",
        "Start chat",
        "you already have as many chats open",
    ),
    "uk": (
        "Чат",
        "Контактний телефон",
        "Коротко про питання",
        "Почати чат",
        "у вас уже відкрито максимум чатів",
    ),
}


@pytest.mark.parametrize("lang", ["en", "uk"])
async def test_a_chat_past_the_users_cap_is_refused_with_a_message_the_user_can_read(
    new_context: NewContext, helpdesk_system: HelpdeskSystem, lang: str
) -> None:
    user = new_hotel_user(helpdesk_system)
    elsewhere: list[WsClient] = []
    try:
        for _ in range(OPEN_ELSEWHERE):
            tab = await WsClient.connect(f"{helpdesk_system.ws_url}/api/v1/chat/user", user.token)
            await tab.send(type="start", name=user.name, phone=PHONE, question="Help", topic="other")
            await tab.expect("queued")
            elsewhere.append(tab)

        page, _ = await open_help(new_context, helpdesk_system, user=user, lang=lang)
        name, phone, question, start, refused = WORDS[lang]
        chat = await section(page, name)
        topic = chat.get_by_role("combobox")
        if await topic.count():  # with a support directory: the 24/7 topic
            await topic.first.select_option("other")
        await chat.get_by_role("textbox", name=phone).fill("+380 44 123 45 67")
        await chat.get_by_role("textbox", name=question).fill("The safe will not open")
        await chat.get_by_role("button", name=start).click()
        await expect(chat.get_by_text(refused)).to_be_visible()
        await screenshot(page, f"chat-too-many-{lang}")
    finally:
        for tab in elsewhere:
            with contextlib.suppress(Exception):
                await tab.close()
