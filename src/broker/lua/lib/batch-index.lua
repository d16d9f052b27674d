-- Library: reading a batch enqueue's two arguments (enqueue.lua, enqueue-debounce.lua): an index
-- of fields, each "<text>:" or "<#bytes>:<bytes>" (lengths in bytes), and the tasks' messages
-- concatenated in index order, each cut by the "<#msg>:" length its index entry gives. Two
-- arguments for any number of tasks rather than several per task: see enqueue.lua's header.

-- Returns four readers that share one cursor into index and one into messages: number() reads
-- "<text>:" (a number or a short word, without the colon), counted() "<#bytes>:<bytes>",
-- message() a "<#msg>:" length in the index and that many bytes of messages, and more() says
-- whether the index has another entry.
local function batchReader(index, messages)
  local at = 1
  local msgAt = 1

  local function number()
    local colon = string.find(index, ':', at, true)
    local value = string.sub(index, at, colon - 1)
    at = colon + 1
    return value
  end

  local function counted()
    local length = tonumber(number())
    local value = string.sub(index, at, at + length - 1)
    at = at + length
    return value
  end

  local function message()
    local length = tonumber(number())
    local value = string.sub(messages, msgAt, msgAt + length - 1)
    msgAt = msgAt + length
    return value
  end

  local function more()
    return at <= #index
  end

  return number, counted, message, more
end
