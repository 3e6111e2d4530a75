package io.stagewise.gateway.internal;

import java.util.regex.Pattern;

/** JDBC URLs fit for logs and error messages. */
public final class JdbcUrls {
    private static final Pattern PASSWORD_PARAMETER = Pattern.compile("(?i)([?&;]password=)[^&;]*");
    private static final Pattern USER_INFO = Pattern.compile("//([^/@:]*):[^/@]*@");

    private JdbcUrls() {}

    /** The URL with any password replaced by {@code ***}. */
    public static String redact(String jdbcUrl) {
        if (jdbcUrl == null) {
            return null;
        }
        String redacted = PASSWORD_PARAMETER.matcher(jdbcUrl).replaceAll("$1***");
        return USER_INFO.matcher(redacted).replaceAll("//$1:***@");
    }
}
