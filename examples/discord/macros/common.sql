{# Rows of `column` within the window being built. #}
{% macro in_window(column) -%}
  {{ column }} >= {{ window_start }} AND {{ column }} < {{ window_end }}
{%- endmacro %}

{# Excludes internal test accounts (see vars.test_user_ids in derived.yaml). #}
{% macro real_users(column='user_id') -%}
  {{ column }} NOT IN ({{ var('test_user_ids') | join(', ') }})
{%- endmacro %}
