// Error handling helpers: Eddy's own RETURN_IF_ERROR / ASSIGN_OR_RETURN over
// absl::Status, because Debian's Abseil predates absl/status/status_macros.h.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define EDDY_STATUS_CONCAT_INNER_(a, b) a##b
#define EDDY_STATUS_CONCAT_(a, b) EDDY_STATUS_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function if `expr` is not OK.
#define RETURN_IF_ERROR(expr)                                  \
  do {                                                         \
    ::absl::Status eddy_status_ = (expr);                      \
    if (!eddy_status_.ok()) return eddy_status_;               \
  } while (0)

// ASSIGN_OR_RETURN(lhs, expr): evaluates a StatusOr expression, returns its
// status on error, otherwise moves the value into `lhs` (which may declare).
#define ASSIGN_OR_RETURN(lhs, expr) \
  EDDY_ASSIGN_OR_RETURN_IMPL_(EDDY_STATUS_CONCAT_(eddy_statusor_, __LINE__), lhs, expr)
#define EDDY_ASSIGN_OR_RETURN_IMPL_(var, lhs, expr) \
  auto var = (expr);                                \
  if (!var.ok()) return std::move(var).status();    \
  lhs = std::move(var).value()
