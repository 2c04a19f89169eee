# Modules added after the foundation register here with rk_module() and
# set_property(GLOBAL APPEND PROPERTY RK_EXTRA_MODULES rk_<name>).
