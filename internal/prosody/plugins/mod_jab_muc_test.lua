-- jab's test servers: room settings that Prosody's MUC lacks and jab's
-- tests need, each off until a room's owner turns it on in the room
-- configuration form (XEP-0045 §10.2). Every other behaviour is Prosody's.
--
--   muc#roomconfig_maxusers  the most occupants the room lets in; a join
--                            past it gets <service-unavailable/>, as
--                            XEP-0045 §7.2.10 says a full room answers.
--   jab#noecho               the room passes an occupant's group chat
--                            message on to the other occupants but never
--                            reflects it to its sender (which XEP-0045
--                            §7.4 requires): a room that never echoes.
--   jab#takenprefix          a join with a nick that starts with it gets
--                            <conflict/> (§7.2.9), as if that nick and
--                            every variant of it were in use.

local st = require "util.stanza";
local jid_split = require "util.jid".split;

module:hook("muc-config-form", function(event)
	local data = event.room._data;
	table.insert(event.form, { name = "muc#roomconfig_maxusers"; type = "text-single";
		label = "Maximum number of occupants"; value = data.jab_maxusers and tostring(data.jab_maxusers) or "" });
	table.insert(event.form, { name = "jab#noecho"; type = "boolean";
		label = "Reflect no message to its sender (jab's tests)"; value = data.jab_noecho or false });
	table.insert(event.form, { name = "jab#takenprefix"; type = "text-single";
		label = "Nicks starting with this are in use (jab's tests)"; value = data.jab_takenprefix or "" });
end);

module:hook("muc-config-submitted/jab#takenprefix", function(event)
	event.room._data.jab_takenprefix = event.value ~= "" and event.value or nil;
end);

module:hook("muc-config-submitted/muc#roomconfig_maxusers", function(event)
	event.room._data.jab_maxusers = tonumber(event.value);
end);

module:hook("muc-config-submitted/jab#noecho", function(event)
	event.room._data.jab_noecho = event.value and true or nil;
end);

-- After the ban check (priority -10).
module:hook("muc-occupant-pre-join", function(event)
	local room = event.room;
	local prefix = room._data.jab_takenprefix;
	local nick = select(3, jid_split(event.occupant.nick));
	if prefix and nick and nick:sub(1, #prefix) == prefix then
		event.origin.send(st.error_reply(event.stanza, "cancel", "conflict", nil, room.jid));
		return true;
	end
	local max = room._data.jab_maxusers;
	if not max or event.is_new_room then return; end
	local n = 0;
	for _ in room:each_occupant() do n = n + 1; end
	if n >= max then
		event.origin.send(st.error_reply(event.stanza, "cancel", "service-unavailable", "The room is full", room.jid));
		return true;
	end
end, -20);

-- After the role check (priority 50): a visitor is still refused.
module:hook("muc-occupant-groupchat", function(event)
	local room, occupant, stanza = event.room, event.occupant, event.stanza;
	if not room._data.jab_noecho or not occupant then return; end
	stanza.attr.from = occupant.nick;
	room:broadcast(stanza, function(nick) return nick ~= occupant.nick; end);
	stanza.attr.from = event.from;
	return true;
end, -10);
