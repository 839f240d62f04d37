// log.write: writes one structured line {level, message, fields, workflow, run_id, step}
// to the run's LogSink. Output: {"level": ..., "message": ...}.
#pragma once

#include <memory>

#include "rampart/actions/action.h"

namespace rampart::actions {
std::unique_ptr<Action> MakeLogWrite();
}  // namespace rampart::actions
